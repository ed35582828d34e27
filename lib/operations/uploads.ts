// Multipart uploads that outlive an invocation and a crash. Before an upload is created it is
// registered in the child's intent journal (operations/intents.ts), and its ID once it exists; its
// parts are the gateway's to tell (ListParts). A task stopped by its step's signal records how
// far it got and hands over (HandOverError); the next attempt lists the parts and carries on from
// the first missing one. A failure aborts the upload; an upload a crash left behind is aborted by
// the child that stops for good or by the merge (abortRegisteredUploads). An upload that was
// completed is recognised on a re-run (the target's ETag, recorded), so a copy onto a versioned
// bucket is not made twice.
import {
  AbortMultipartUploadCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CreateMultipartUploadCommandInput,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { EndpointClients } from "../endpoints/clients.ts";
import type { IntentJournal } from "./intents.ts";
import { HandOverError } from "./types.ts";

/** One upload of one row to one gateway, as the journal keeps it (slot `upload:<endpoint>`). */
export interface UploadRecord {
  endpoint: string;
  bucket: string;
  key: string;
  size: number;
  partSize: number;
  /** The source's ETag: a resumed upload must be of the very same source. */
  sourceEtag: string;
  /** Registered before the upload was created (store time, epoch ms). */
  registeredAt: number;
  uploadId?: string;
  partsDone?: number;
  completing?: boolean;
  done?: { etag: string; versionId?: string };
  aborted?: boolean;
}

export interface UploadTarget {
  s3: S3Client;
  endpointId: string;
  bucket: string;
  key: string;
}

/** Uploads part `n` (bytes [start, end] of the object) to the upload; its ETag and checksum. */
export type PartSource = (
  n: number,
  start: number,
  end: number,
  uploadId: string,
  signal: AbortSignal,
) => Promise<CompletedPart>;

const slotOf = (endpointId: string) => `upload:${endpointId}`;
const isStatus = (err: unknown, name: string, status?: number) =>
  err instanceof S3ServiceException &&
  (err.name === name || (status !== undefined && err.$metadata.httpStatusCode === status));

/** The record of `row`'s upload to `endpointId`, if any attempt made one. */
export function uploadRecord(
  journal: IntentJournal,
  row: number,
  endpointId: string,
): UploadRecord | undefined {
  return journal.prior(row)?.[slotOf(endpointId)] as UploadRecord | undefined;
}

async function record(journal: IntentJournal, row: number, rec: UploadRecord, progress = false) {
  await journal.record(row, { [slotOf(rec.endpoint)]: rec }, { progress });
}

/** Whether the target holds what an earlier attempt completed (its ETag, or its version). */
async function stillThere(t: UploadTarget, done: NonNullable<UploadRecord["done"]>): Promise<boolean> {
  try {
    const head = await t.s3.send(
      new HeadObjectCommand({
        Bucket: t.bucket,
        Key: t.key,
        ...(done.versionId ? { VersionId: done.versionId } : {}),
      }),
    );
    return head.ETag === done.etag;
  } catch (err) {
    if (isStatus(err, "NotFound", 404)) return false;
    throw err;
  }
}

/** The parts an upload holds, 1..n without a gap; undefined when the upload is gone. */
async function listedParts(t: UploadTarget, uploadId: string): Promise<CompletedPart[] | undefined> {
  const parts: CompletedPart[] = [];
  let marker: string | undefined;
  try {
    for (;;) {
      const out = await t.s3.send(
        new ListPartsCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId, PartNumberMarker: marker }),
      );
      for (const p of out.Parts ?? [])
        parts.push({
          PartNumber: p.PartNumber,
          ETag: p.ETag,
          ChecksumCRC32: p.ChecksumCRC32,
          ChecksumCRC32C: p.ChecksumCRC32C,
          ChecksumSHA1: p.ChecksumSHA1,
          ChecksumSHA256: p.ChecksumSHA256,
          ChecksumCRC64NVME: p.ChecksumCRC64NVME,
        });
      if (!out.IsTruncated || !out.NextPartNumberMarker) break;
      marker = out.NextPartNumberMarker;
    }
  } catch (err) {
    if (isStatus(err, "NoSuchUpload", 404)) return undefined;
    throw err;
  }
  parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  const contiguous: CompletedPart[] = [];
  for (const p of parts) {
    if (p.PartNumber !== contiguous.length + 1) break;
    contiguous.push(p);
  }
  return contiguous;
}

export interface ResumableUpload {
  journal: IntentJournal;
  row: number;
  signal: AbortSignal;
  target: UploadTarget;
  size: number;
  partSize: number;
  sourceEtag: string;
  /** The upload's own fields: metadata, tags, ACL, lock, encryption, checksum algorithm. */
  create: Omit<CreateMultipartUploadCommandInput, "Bucket" | "Key">;
  checksumAlgorithm?: ChecksumAlgorithm;
  part: PartSource;
  /** The store's clock, for the registration time. */
  now: () => number;
}

/**
 * Uploads an object part by part, resuming what an earlier attempt of the row registered. Answers
 * whether the object was already complete from an earlier attempt. Throws HandOverError when the
 * signal fires between or during parts (the upload stays registered for the next attempt).
 */
export async function resumableUpload(o: ResumableUpload): Promise<{ earlier: boolean }> {
  const { journal, row, target } = o;
  const prior = uploadRecord(journal, row, target.endpointId);
  const same =
    prior !== undefined &&
    prior.bucket === target.bucket &&
    prior.key === target.key &&
    prior.sourceEtag === o.sourceEtag &&
    prior.partSize === o.partSize;
  if (same && prior.done && (await stillThere(target, prior.done))) return { earlier: true };
  let rec: UploadRecord | undefined;
  let parts: CompletedPart[] | undefined;
  if (same && prior.uploadId && !prior.done && !prior.aborted) {
    parts = await listedParts(target, prior.uploadId);
    if (parts) rec = prior;
    else if (prior.completing) {
      // Gone after CompleteMultipartUpload was sent: completed, if the target is the right size.
      const head = await target.s3
        .send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key }))
        .catch(() => undefined);
      if (head?.ContentLength === o.size && head.ETag) {
        await record(journal, row, {
          ...prior,
          done: { etag: head.ETag, ...(head.VersionId ? { versionId: head.VersionId } : {}) },
        });
        return { earlier: true };
      }
    }
  }
  if (!rec) {
    // Registered before it exists: a crash right after creating it leaves a trace to clean up.
    rec = {
      endpoint: target.endpointId,
      bucket: target.bucket,
      key: target.key,
      size: o.size,
      partSize: o.partSize,
      sourceEtag: o.sourceEtag,
      registeredAt: o.now(),
    };
    await record(journal, row, rec);
    const created = await target.s3.send(
      new CreateMultipartUploadCommand({ ...o.create, Bucket: target.bucket, Key: target.key }),
    );
    rec = { ...rec, uploadId: created.UploadId ?? "" };
    await record(journal, row, rec);
    parts = [];
  }
  const uploadId = rec.uploadId as string;
  const done = parts ?? [];
  try {
    for (
      let n = done.length + 1, start = done.length * o.partSize;
      start < o.size;
      n++, start += o.partSize
    ) {
      if (o.signal.aborted) throw new HandOverError(`the upload of row ${row} stopped after ${n - 1} parts`);
      const end = Math.min(o.size, start + o.partSize) - 1;
      done.push(await o.part(n, start, end, uploadId, o.signal));
    }
    rec = { ...rec, completing: true, partsDone: done.length };
    await record(journal, row, rec, true);
    const out = await target.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: done },
      }),
    );
    await record(journal, row, {
      ...rec,
      done: { etag: out.ETag ?? "", ...(out.VersionId ? { versionId: out.VersionId } : {}) },
    });
    return { earlier: false };
  } catch (err) {
    if (err instanceof HandOverError || o.signal.aborted) {
      // Kept for the next attempt; the parts done so far are this attempt's progress.
      await record(journal, row, { ...rec, partsDone: done.length }, true);
      throw err instanceof HandOverError ? err : new HandOverError(`the upload of row ${row} was stopped`);
    }
    await target.s3
      .send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId }))
      .catch(() => {}); // a failing gateway: abortRegisteredUploads tries again later
    await record(journal, row, { ...rec, aborted: true }).catch(() => {});
    throw err;
  }
}

/** Records a single-request effect (a small copy) before it is made, and recognises it after. */
export async function onceOnly(
  journal: IntentJournal,
  row: number,
  target: UploadTarget,
  sourceEtag: string,
  act: () => Promise<{ etag: string; versionId?: string }>,
): Promise<{ earlier: boolean }> {
  const prior = uploadRecord(journal, row, target.endpointId);
  if (
    prior?.done &&
    prior.bucket === target.bucket &&
    prior.key === target.key &&
    prior.sourceEtag === sourceEtag &&
    (await stillThere(target, prior.done))
  )
    return { earlier: true };
  const rec: UploadRecord = {
    endpoint: target.endpointId,
    bucket: target.bucket,
    key: target.key,
    size: 0,
    partSize: 0,
    sourceEtag,
    registeredAt: 0,
  };
  const done = await act();
  await record(journal, row, { ...rec, done });
  return { earlier: false };
}

/**
 * Aborts the uploads a child's tasks registered and did not finish: a child that stops for good,
 * or the merge sweeping what crashes left. An upload registered but never given its ID (a crash
 * right after creating it) is found by listing the key's uploads started since its registration.
 */
export async function abortRegisteredUploads(
  gateways: EndpointClients,
  journal: IntentJournal,
): Promise<number> {
  let aborted = 0;
  for (const [, intent] of journal.entries())
    for (const [slot, value] of Object.entries(intent)) {
      if (!slot.startsWith("upload:")) continue;
      const rec = value as UploadRecord;
      if (rec.done || rec.aborted || !rec.registeredAt || !gateways.byId.has(rec.endpoint)) continue;
      const s3 = gateways.get(rec.endpoint).s3;
      const ids = rec.uploadId ? [rec.uploadId] : await uploadsSince(s3, rec);
      for (const UploadId of ids) {
        await s3
          .send(new AbortMultipartUploadCommand({ Bucket: rec.bucket, Key: rec.key, UploadId }))
          .then(() => aborted++)
          .catch(() => {}); // already gone, or the gateway is away: the next sweep tries again
      }
    }
  return aborted;
}

/** Uploads of the record's key started since a minute before it was registered (clocks differ). */
async function uploadsSince(s3: S3Client, rec: UploadRecord): Promise<string[]> {
  const out = await s3
    .send(new ListMultipartUploadsCommand({ Bucket: rec.bucket, Prefix: rec.key }))
    .catch(() => undefined);
  return (out?.Uploads ?? [])
    .filter((u) => u.Key === rec.key && (u.Initiated?.getTime() ?? 0) >= rec.registeredAt - 60_000)
    .map((u) => u.UploadId ?? "")
    .filter(Boolean);
}
