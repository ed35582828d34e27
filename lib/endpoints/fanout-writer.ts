// Writes one object to several endpoints at once, from a single pass over its content: text is
// encoded straight into a part buffer, each full part is uploaded to every target in parallel
// (multipart), and the MD5 of the whole object is computed on the way. Memory is a fixed pool of
// part buffers: the one being filled plus at most `queueSize` in flight, reused part after part.
// A writer can be saved mid-object (its uploads, parts, MD5 state and the unsent part) and
// resumed by another process: the merge's handover. A target that fails (its gateway's outage
// outlasted the window, or it refused) is dropped, its upload aborted, and the others carry on:
// one gateway down costs that copy of the object, not the object. Only when every target has
// failed does the writer fail.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createMD5, type IHasher } from "hash-wasm";
import { S3BatchError } from "../errors.ts";
import type { EndpointAvailability } from "../retry/availability.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";

export interface WriteTarget {
  s3: S3Client;
  bucket: string;
  key: string;
  /** The gateway's availability: its calls ride out an outage under the retry policy. */
  availability?: EndpointAvailability;
}

/** Sends one command for a target, retried as the policy says when the target is a gateway. */
const send = <T>(t: WriteTarget, call: () => Promise<T>): Promise<T> =>
  t.availability ? withEndpointRetry(t.availability, call) : call();

interface Upload {
  target: WriteTarget;
  uploadId: string;
  parts: { PartNumber: number; ETag: string }[];
}

/** Every target of a writer failed: nothing of the object was written anywhere. */
/** A writer's saved state does not fit the targets it is resumed with. */
export class WriterStateError extends S3BatchError {}

/** A line longer than the margin a part keeps for it. */
export class ReportLineError extends S3BatchError {}

export class AllTargetsFailedError extends S3BatchError {}

/** A writer's progress, without the unsent part's bytes (kept apart, see `save`). */
export interface WriterState {
  /** Per target, in target order; absent while no part has been sent. */
  uploads?: { uploadId: string; parts: { PartNumber: number; ETag: string }[] }[];
  nextPart: number;
  total: number;
  /** hash-wasm's saved MD5 state of the bytes already sent, base64. */
  md5: string;
  /** Targets dropped, by index, with why. */
  failed?: Record<number, string>;
}

const toBase64 = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
};
const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

const encoder = new TextEncoder();

/** A target's failure in a line: `<error name>: <message>`, or the reason given as text. */
export function failureOf(err: unknown): string {
  if (typeof err === "string") return err;
  const e = err as { name?: string; message?: string };
  return `${e.name ?? "Error"}: ${(e.message ?? String(err)).slice(0, 200)}`;
}
/** Room past `partBytes` in each buffer, so that a line never has to be split across parts. */
const MARGIN = 256 * 1024;

export class FanoutWriter {
  private buffer: Uint8Array;
  private used = 0;
  private readonly spare: Uint8Array[] = [];
  private uploads: Upload[] | undefined;
  private md5: Promise<IHasher> = createMD5();
  private total = 0;
  /** Parts being uploaded: at most `queueSize`, so memory is bounded whatever the object's size. */
  private inflight: Promise<void>[] = [];
  private nextPart = 1;
  /** Targets dropped (by index), with why: they are written no more. */
  private readonly dropped = new Map<number, string>();

  constructor(
    readonly targets: WriteTarget[],
    readonly partBytes: number,
    readonly contentType = "text/csv",
    readonly queueSize = 2,
  ) {
    this.buffer = new Uint8Array(partBytes + MARGIN);
  }

  /**
   * Waits for the parts in flight and returns the writer's state and its unsent bytes (less than
   * one part): what `resume` needs to carry on in another process.
   */
  async save(): Promise<{ state: WriterState; unsent: Uint8Array }> {
    await Promise.all(this.inflight);
    this.inflight = [];
    const state: WriterState = {
      nextPart: this.nextPart,
      total: this.total,
      md5: toBase64((await this.md5).save()),
      ...(this.dropped.size > 0 ? { failed: Object.fromEntries(this.dropped) } : {}),
      ...(this.uploads
        ? { uploads: this.uploads.map((u) => ({ uploadId: u.uploadId, parts: [...u.parts] })) }
        : {}),
    };
    return { state, unsent: this.buffer.slice(0, this.used) };
  }

  /** A writer that carries on from `save`'s state, with the unsent bytes back in its buffer. */
  static async resume(
    targets: WriteTarget[],
    partBytes: number,
    state: WriterState,
    unsent: Uint8Array,
    contentType = "text/csv",
  ): Promise<FanoutWriter> {
    const w = new FanoutWriter(targets, partBytes, contentType);
    const md5 = await createMD5();
    md5.load(fromBase64(state.md5));
    w.md5 = Promise.resolve(md5);
    w.total = state.total;
    w.nextPart = state.nextPart;
    for (const [i, why] of Object.entries(state.failed ?? {})) w.dropped.set(Number(i), why);
    if (state.uploads) {
      if (state.uploads.length !== targets.length)
        throw new WriterStateError("a saved writer has other targets");
      w.uploads = state.uploads.map((u, i) => ({
        target: targets[i] as WriteTarget,
        uploadId: u.uploadId,
        parts: [...u.parts],
      }));
    }
    w.buffer.set(unsent);
    w.used = unsent.length;
    return w;
  }

  /** The multipart uploads this writer has open, by target. */
  openUploads(): { target: WriteTarget; uploadId: string }[] {
    return (this.uploads ?? [])
      .filter((_, i) => !this.dropped.has(i))
      .map((u) => ({ target: u.target, uploadId: u.uploadId }));
  }

  /** The targets dropped so far, with why (in target order). */
  failures(): { target: WriteTarget; reason: string }[] {
    return [...this.dropped.entries()]
      .sort(([a], [b]) => a - b)
      .map(([i, reason]) => ({ target: this.targets[i] as WriteTarget, reason }));
  }

  /** Drops a target (its gateway is lost for this object): nothing more is sent there. */
  drop(index: number, err: unknown): void {
    if (this.dropped.has(index)) return;
    this.dropped.set(index, failureOf(err));
    const u = this.uploads?.[index];
    if (u)
      void u.target.s3
        .send(
          new AbortMultipartUploadCommand({
            Bucket: u.target.bucket,
            Key: u.target.key,
            UploadId: u.uploadId,
          }),
        )
        .catch(() => {}); // the gateway is failing; the merge's next start aborts what is left
    if (this.dropped.size === this.targets.length)
      throw new AllTargetsFailedError(
        `no target could take ${this.targets[0]?.key}: ${this.dropped.get(index)}`,
      );
  }

  /** Runs `call` for every live target; a target whose call fails is dropped. */
  private async eachTarget(call: (t: WriteTarget, i: number) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(
      this.targets.map((t, i) => (this.dropped.has(i) ? Promise.resolve() : call(t, i))),
    );
    results.forEach((r, i) => {
      if (r.status === "rejected") this.drop(i, r.reason);
    });
  }

  /** Appends `text` when the current part has room for it, without waiting; false otherwise. */
  tryAppend(text: string): boolean {
    if (this.used >= this.partBytes) return false;
    const { read, written } = encoder.encodeInto(text, this.buffer.subarray(this.used));
    if (read < text.length) return false;
    this.used += written;
    return true;
  }

  /** Appends `text` (whole lines), sending full parts on the way. */
  async write(text: string): Promise<void> {
    if (this.tryAppend(text)) return;
    // No room for all of it: line by line, a part boundary falling between two lines.
    for (let from = 0; from < text.length; ) {
      const nl = text.indexOf("\n", from);
      const to = nl === -1 ? text.length : nl + 1;
      const line = text.slice(from, to);
      if (!this.tryAppend(line)) {
        // Only a full part is sent: a line never outgrows the margin left past partBytes.
        if (this.used < this.partBytes) throw new ReportLineError(`a report line over ${MARGIN} bytes`);
        await this.flushPart();
        if (!this.tryAppend(line)) throw new ReportLineError(`a report line over ${MARGIN} bytes`);
      }
      from = to;
    }
  }

  /** Appends raw bytes (a compressed stream, say), sending full parts on the way. */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    for (let from = 0; from < bytes.length; ) {
      if (this.used >= this.partBytes) await this.flushPart();
      const n = Math.min(bytes.length - from, this.partBytes - this.used);
      this.buffer.set(bytes.subarray(from, from + n), this.used);
      this.used += n;
      from += n;
    }
  }

  /** Completes the object on every target; returns its size and MD5 (hex). Writes nothing if empty. */
  async finish(): Promise<{ bytes: number; md5: string }> {
    const body = await this.take();
    if (!this.uploads) {
      if (body.length > 0) {
        await this.eachTarget(async (t) => {
          await send(t, () =>
            t.s3.send(
              new PutObjectCommand({
                Bucket: t.bucket,
                Key: t.key,
                Body: body,
                ContentType: this.contentType,
              }),
            ),
          );
        });
      }
    } else {
      const uploads = this.uploads;
      if (body.length > 0) this.startPart(body);
      await Promise.all(this.inflight);
      this.inflight = [];
      await this.eachTarget(async (_t, i) => {
        const u = uploads[i] as Upload;
        await send(u.target, () =>
          u.target.s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: u.target.bucket,
              Key: u.target.key,
              UploadId: u.uploadId,
              MultipartUpload: { Parts: [...u.parts].sort((a, b) => a.PartNumber - b.PartNumber) },
            }),
          ),
        );
      });
    }
    return { bytes: this.total, md5: (await this.md5).digest("hex") };
  }

  /** Aborts any multipart uploads in flight; the bucket's lifecycle rule is the second net. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inflight);
    await Promise.allSettled(
      (this.uploads ?? [])
        .filter((_, i) => !this.dropped.has(i))
        .map((u) =>
          send(u.target, () =>
            u.target.s3.send(
              new AbortMultipartUploadCommand({
                Bucket: u.target.bucket,
                Key: u.target.key,
                UploadId: u.uploadId,
              }),
            ),
          ),
        ),
    );
  }

  /** Takes the filled part of the buffer, adding it to the size and the MD5; a fresh buffer follows. */
  private async take(): Promise<Uint8Array> {
    const body = this.buffer.subarray(0, this.used);
    (await this.md5).update(body);
    this.total += body.length;
    this.buffer = this.spare.pop() ?? new Uint8Array(this.partBytes + MARGIN);
    this.used = 0;
    return body;
  }

  private async flushPart(): Promise<void> {
    const body = await this.take();
    if (!this.uploads) {
      const uploads: Upload[] = this.targets.map((target) => ({ target, uploadId: "", parts: [] }));
      await this.eachTarget(async (target, i) => {
        const out = await send(target, () =>
          target.s3.send(
            new CreateMultipartUploadCommand({
              Bucket: target.bucket,
              Key: target.key,
              ContentType: this.contentType,
            }),
          ),
        );
        (uploads[i] as Upload).uploadId = out.UploadId ?? "";
      });
      this.uploads = uploads;
    }
    this.startPart(body);
    while (this.inflight.length >= this.queueSize) await this.inflight.shift();
  }

  /** Starts uploading one part to every target; its buffer returns to the pool when all are done. */
  private startPart(body: Uint8Array): void {
    const uploads = this.uploads ?? [];
    const PartNumber = this.nextPart++;
    const done = this.eachTarget(async (_t, i) => {
      const u = uploads[i] as Upload;
      const out = await send(u.target, () =>
        u.target.s3.send(
          new UploadPartCommand({
            Bucket: u.target.bucket,
            Key: u.target.key,
            UploadId: u.uploadId,
            PartNumber,
            Body: body,
          }),
        ),
      );
      u.parts.push({ PartNumber, ETag: out.ETag ?? "" });
    }).then(() => {
      this.spare.push(new Uint8Array(body.buffer));
    });
    done.catch(() => {}); // awaited later; this only keeps an early failure from going unhandled
    this.inflight.push(done);
  }
}
