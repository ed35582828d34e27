// Writes one object to several endpoints at once, from a single pass over its content: text is
// buffered up to one part, each full part is uploaded to every target in parallel (multipart),
// and the MD5 of the whole object is computed on the way. Memory is the part being filled plus
// at most `queueSize` parts in flight.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createMD5, type IHasher } from "hash-wasm";

export interface WriteTarget {
  s3: S3Client;
  bucket: string;
  key: string;
}

interface Upload {
  target: WriteTarget;
  uploadId: string;
  parts: { PartNumber: number; ETag: string }[];
}

const encoder = new TextEncoder();

export class FanoutWriter {
  private chunks: string[] = [];
  private buffered = 0;
  private uploads: Upload[] | undefined;
  private md5: Promise<IHasher> = createMD5();
  private total = 0;
  /** Parts being uploaded: at most `queueSize`, so memory is bounded whatever the object's size. */
  private inflight: Promise<void>[] = [];
  private nextPart = 1;

  constructor(
    readonly targets: WriteTarget[],
    readonly partBytes: number,
    readonly contentType = "text/csv",
    readonly queueSize = 2,
  ) {}

  async write(text: string): Promise<void> {
    this.chunks.push(text);
    this.buffered += text.length; // UTF-16 units: a lower bound of the bytes, enough to decide a flush
    if (this.buffered >= this.partBytes) await this.flushPart();
  }

  /** Completes the object on every target; returns its size and MD5 (hex). Writes nothing if empty. */
  async finish(): Promise<{ bytes: number; md5: string }> {
    const body = await this.take();
    if (!this.uploads) {
      if (body.length > 0) {
        await Promise.all(
          this.targets.map((t) =>
            t.s3.send(
              new PutObjectCommand({
                Bucket: t.bucket,
                Key: t.key,
                Body: body,
                ContentType: this.contentType,
              }),
            ),
          ),
        );
      }
    } else {
      if (body.length > 0) this.startPart(body);
      await Promise.all(this.inflight);
      this.inflight = [];
      await Promise.all(
        this.uploads.map((u) =>
          u.target.s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: u.target.bucket,
              Key: u.target.key,
              UploadId: u.uploadId,
              MultipartUpload: { Parts: [...u.parts].sort((a, b) => a.PartNumber - b.PartNumber) },
            }),
          ),
        ),
      );
    }
    return { bytes: this.total, md5: (await this.md5).digest("hex") };
  }

  /** Aborts any multipart uploads in flight; the bucket's lifecycle rule is the second net. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inflight);
    await Promise.allSettled(
      (this.uploads ?? []).map((u) =>
        u.target.s3.send(
          new AbortMultipartUploadCommand({
            Bucket: u.target.bucket,
            Key: u.target.key,
            UploadId: u.uploadId,
          }),
        ),
      ),
    );
  }

  /** Takes the buffered text as bytes, adding them to the size and the MD5. */
  private async take(): Promise<Uint8Array> {
    const body = encoder.encode(this.chunks.join(""));
    this.chunks = [];
    this.buffered = 0;
    (await this.md5).update(body);
    this.total += body.length;
    return body;
  }

  private async flushPart(): Promise<void> {
    const body = await this.take();
    this.uploads ??= await Promise.all(
      this.targets.map(async (target) => {
        const out = await target.s3.send(
          new CreateMultipartUploadCommand({
            Bucket: target.bucket,
            Key: target.key,
            ContentType: this.contentType,
          }),
        );
        return { target, uploadId: out.UploadId ?? "", parts: [] };
      }),
    );
    this.startPart(body);
    while (this.inflight.length >= this.queueSize) await this.inflight.shift();
  }

  /** Starts uploading one part to every target; the promise joins the bounded queue. */
  private startPart(body: Uint8Array): void {
    const uploads = this.uploads ?? [];
    const PartNumber = this.nextPart++;
    const done = Promise.all(
      uploads.map(async (u) => {
        const out = await u.target.s3.send(
          new UploadPartCommand({
            Bucket: u.target.bucket,
            Key: u.target.key,
            UploadId: u.uploadId,
            PartNumber,
            Body: body,
          }),
        );
        u.parts.push({ PartNumber, ETag: out.ETag ?? "" });
      }),
    ).then(() => undefined);
    done.catch(() => {}); // awaited later; this only keeps an early failure from going unhandled
    this.inflight.push(done);
  }
}
