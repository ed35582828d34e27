// Moving object bytes: a copy inside one gateway stays server-side (CopyObject, or UploadPartCopy
// above a size threshold, so there is no 5 GB cap); a copy between gateways reads and writes one
// part at a time, so memory is one part whatever the object's size. Every copy is recorded in the
// task's intent journal (uploads.ts): a multipart copy resumes in the next invocation when its
// budget runs out, and a copy an earlier attempt completed is recognised rather than made again.
import {
  CopyObjectCommand,
  type CopyObjectCommandInput,
  GetObjectCommand,
  GetObjectTaggingCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { RetryableError } from "../errors.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { copySource } from "./object-state.ts";
import type { TaskContext } from "./types.ts";
import { onceOnly, resumableUpload } from "./uploads.ts";

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
  const out = await src.s3.send(
    new GetObjectTaggingCommand({ Bucket: src.bucket, Key: src.key, VersionId: src.versionId }),
  );
  const tags = out.TagSet ?? [];
  if (tags.length === 0) return undefined;
  return tags.map((t) => `${encodeURIComponent(t.Key ?? "")}=${encodeURIComponent(t.Value ?? "")}`).join("&");
}

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
  const { MetadataDirective, TaggingDirective, ...rest } = params;
  const meta = MetadataDirective === "REPLACE" ? {} : headMetadata(src.head);
  const Tagging = TaggingDirective === "REPLACE" ? params.Tagging : await sourceTagging(src);
  return resumableUpload({
    journal,
    row: scope.row.index,
    signal,
    target,
    size,
    partSize: partSize(size, sizes.partBytes),
    sourceEtag: etag,
    create: { ...meta, ...rest, ...(Tagging ? { Tagging } : {}) },
    now: () => scope.t.now(),
    part: async (PartNumber, start, end, UploadId, abortSignal) => {
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
      const r = out.CopyPartResult;
      return {
        PartNumber,
        ETag: r?.ETag,
        ChecksumCRC32: r?.ChecksumCRC32,
        ChecksumCRC32C: r?.ChecksumCRC32C,
        ChecksumSHA1: r?.ChecksumSHA1,
        ChecksumSHA256: r?.ChecksumSHA256,
        ChecksumCRC64NVME: r?.ChecksumCRC64NVME,
      };
    },
  });
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
  const { MetadataDirective, TaggingDirective, ...rest } = params;
  const meta = MetadataDirective === "REPLACE" ? {} : headMetadata(src.head);
  const Tagging = TaggingDirective === "REPLACE" ? params.Tagging : await sourceTagging(src);
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
  const created = { ...meta, ...rest, ...(Tagging ? { Tagging } : {}) };
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
  return resumableUpload({
    journal,
    row: scope.row.index,
    signal,
    target,
    size,
    partSize: part,
    sourceEtag: etag,
    create: created,
    now: () => scope.t.now(),
    part: async (PartNumber, start, end, UploadId, abortSignal) => {
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
      return {
        PartNumber,
        ETag: out.ETag,
        ChecksumCRC32: out.ChecksumCRC32,
        ChecksumCRC32C: out.ChecksumCRC32C,
        ChecksumSHA1: out.ChecksumSHA1,
        ChecksumSHA256: out.ChecksumSHA256,
        ChecksumCRC64NVME: out.ChecksumCRC64NVME,
      };
    },
  });
}
