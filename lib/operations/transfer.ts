// Moving object bytes: a copy inside one gateway stays server-side (CopyObject, or UploadPartCopy
// above a size threshold, so there is no 5 GB cap); a copy between gateways reads and writes one
// part at a time, so memory is one part whatever the object's size. Every copy is recorded in the
// task's intent journal (uploads.ts): a multipart copy resumes in the next invocation when its
// budget runs out, and a copy an earlier attempt completed is recognised rather than made again.
import {
  type CompletedPart,
  CopyObjectCommand,
  type CopyObjectCommandInput,
  GetObjectCommand,
  GetObjectTaggingCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
  type Tag,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { RetryableError } from "../errors.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { httpStatusOf } from "../retry/policy.ts";
import { copySource } from "./object-state.ts";
import type { TaskContext } from "./types.ts";
import { onceOnly, type PartSource, resumableUpload, type UploadTarget } from "./uploads.ts";

export interface SourceObject {
  s3: S3Client;
  bucket: string;
  key: string;
  versionId?: string;
  head: HeadObjectCommandOutput;
}

/** What the new object gets, in CopyObject's terms (metadata, tags, ACL, lock, encryption…). */
export type TargetParams = Omit<
  CopyObjectCommandInput,
  "Bucket" | "Key" | "CopySource" | "CopySourceIfModifiedSince" | "CopySourceIfUnmodifiedSince"
>;

export interface TransferSizes {
  /** Objects larger than this are copied part by part within a gateway. */
  multipartThreshold: number;
  /** The smallest part; larger objects get larger parts, at most 10,000 of them. */
  partBytes: number;
}

const MAX_PARTS = 10_000;
const partSize = (size: number, min: number) => Math.max(min, Math.ceil(size / MAX_PARTS));

/** The source's own metadata, as a copy with MetadataDirective COPY keeps it. */
export function headMetadata(head: HeadObjectCommandOutput): TargetParams {
  return {
    ContentType: head.ContentType,
    CacheControl: head.CacheControl,
    ContentDisposition: head.ContentDisposition,
    ContentEncoding: head.ContentEncoding,
    ContentLanguage: head.ContentLanguage,
    Expires: head.Expires,
    Metadata: head.Metadata,
  };
}

/** The source's tags as a Tagging header value (a copy keeps them unless told otherwise). */
export async function sourceTagging(src: SourceObject): Promise<string | undefined> {
  let tags: Tag[];
  try {
    const out = await src.s3.send(
      new GetObjectTaggingCommand({ Bucket: src.bucket, Key: src.key, VersionId: src.versionId }),
    );
    tags = out.TagSet ?? [];
  } catch (err) {
    // A gateway that does not implement tagging (Garage) holds no tags: the copy has none to keep.
    if (httpStatusOf(err) === 501) return undefined;
    throw err;
  }
  if (tags.length === 0) return undefined;
  return tags.map((t) => `${encodeURIComponent(t.Key ?? "")}=${encodeURIComponent(t.Value ?? "")}`).join("&");
}

/** What a new object gets that a server-side copy would take from its directives. */
async function createdFields(src: SourceObject, params: TargetParams): Promise<TargetParams> {
  const { MetadataDirective, TaggingDirective, ...rest } = params;
  const meta = MetadataDirective === "REPLACE" ? {} : headMetadata(src.head);
  const Tagging = TaggingDirective === "REPLACE" ? params.Tagging : await sourceTagging(src);
  return { ...meta, ...rest, ...(Tagging ? { Tagging } : {}) };
}

type PartChecksums = Pick<
  CompletedPart,
  "ETag" | "ChecksumCRC32" | "ChecksumCRC32C" | "ChecksumSHA1" | "ChecksumSHA256" | "ChecksumCRC64NVME"
>;

/** A part as CompleteMultipartUpload wants it: its number, ETag and checksum. */
const completed = (PartNumber: number, r: PartChecksums | undefined): CompletedPart => ({
  PartNumber,
  ETag: r?.ETag,
  ChecksumCRC32: r?.ChecksumCRC32,
  ChecksumCRC32C: r?.ChecksumCRC32C,
  ChecksumSHA1: r?.ChecksumSHA1,
  ChecksumSHA256: r?.ChecksumSHA256,
  ChecksumCRC64NVME: r?.ChecksumCRC64NVME,
});

/** A resumable upload of `src` to `target` for the scope's task, part by part with `part`. */
const partByPart = (
  scope: CopyScope,
  target: UploadTarget,
  src: SourceObject,
  partBytes: number,
  create: TargetParams,
  part: PartSource,
) =>
  resumableUpload({
    journal: scope.t.intents,
    row: scope.row.index,
    signal: scope.t.signal,
    target,
    size: src.head.ContentLength ?? 0,
    partSize: partBytes,
    sourceEtag: src.head.ETag ?? "",
    create,
    now: () => scope.t.now(),
    part,
  });

/** Where a copy is made, and the task it is made for (its journal, its signal, its row). */
export interface CopyScope {
  t: TaskContext;
  row: TaskRow;
  /** The target gateway's id and client. */
  target: { endpointId: string; s3: S3Client };
}

/**
 * Copies within one gateway, server-side. `params` carry MetadataDirective/TaggingDirective. Above
 * the threshold, part by part (UploadPartCopy), every part pinned to the source's ETag, resumable
 * across invocations, aborted on failure, with part checksums when ChecksumAlgorithm is set.
 */
export async function copyWithin(
  src: SourceObject,
  bucket: string,
  key: string,
  params: TargetParams,
  sizes: TransferSizes,
  scope: CopyScope,
): Promise<{ earlier: boolean }> {
  const CopySource = copySource(src.bucket, src.key, src.versionId);
  const size = src.head.ContentLength ?? 0;
  const etag = src.head.ETag ?? "";
  const target = { ...scope.target, bucket, key };
  const { journal, signal } = { journal: scope.t.intents, signal: scope.t.signal };
  if (size <= sizes.multipartThreshold)
    return onceOnly(journal, scope.row.index, target, etag, async () => {
      const out = await src.s3.send(
        new CopyObjectCommand({ ...params, Bucket: bucket, Key: key, CopySource, CopySourceIfMatch: etag }),
        { abortSignal: signal },
      );
      return {
        etag: out.CopyObjectResult?.ETag ?? "",
        ...(out.VersionId ? { versionId: out.VersionId } : {}),
      };
    });
  // UploadPartCopy takes no directives: the upload is created with the metadata and tags itself.
  const create = await createdFields(src, params);
  return partByPart(
    scope,
    target,
    src,
    partSize(size, sizes.partBytes),
    create,
    async (PartNumber, start, end, UploadId, abortSignal) => {
      const out = await src.s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber,
          CopySource,
          CopySourceIfMatch: etag,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
        { abortSignal },
      );
      return completed(PartNumber, out.CopyPartResult);
    },
  );
}

/**
 * Copies to another gateway. An object of one part is read and written in one request each; a
 * larger one part by part: each part is read whole (a ranged GET pinned to the source's ETag,
 * whose gateway slot is given back before the part is written, so a copy never holds one
 * gateway's slot while it waits for another's) and uploaded. Memory is one part, whatever the
 * object's size; the upload resumes across invocations (uploads.ts).
 */
export async function copyAcross(
  src: SourceObject,
  bucket: string,
  key: string,
  params: TargetParams,
  sizes: TransferSizes,
  scope: CopyScope,
): Promise<{ earlier: boolean }> {
  const size = src.head.ContentLength ?? 0;
  const etag = src.head.ETag ?? "";
  const part = partSize(size, sizes.partBytes);
  const target = { ...scope.target, bucket, key };
  const { intents: journal, signal } = scope.t;
  const read = async (start: number, end: number, abortSignal: AbortSignal) => {
    const got = await src.s3.send(
      new GetObjectCommand({
        Bucket: src.bucket,
        Key: src.key,
        VersionId: src.versionId,
        IfMatch: etag,
        ...(size > 0 ? { Range: `bytes=${start}-${end}` } : {}),
      }),
      { abortSignal },
    );
    if (!got.Body) throw new RetryableError("the source object has no body");
    return got.Body.transformToByteArray();
  };
  const created = await createdFields(src, params);
  if (size <= part)
    return onceOnly(journal, scope.row.index, target, etag, async () => {
      const body = await read(0, Math.max(0, size - 1), signal);
      const out = await target.s3.send(
        new PutObjectCommand({
          ...created,
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
        }),
        { abortSignal: signal },
      );
      return { etag: out.ETag ?? "", ...(out.VersionId ? { versionId: out.VersionId } : {}) };
    });
  return partByPart(
    scope,
    target,
    src,
    part,
    created,
    async (PartNumber, start, end, UploadId, abortSignal) => {
      const body = await read(start, end, abortSignal);
      const out = await target.s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber,
          Body: body,
          ContentLength: body.length,
          ...(params.ChecksumAlgorithm ? { ChecksumAlgorithm: params.ChecksumAlgorithm } : {}),
        }),
        { abortSignal },
      );
      return completed(PartNumber, out);
    },
  );
}
