// Moving object bytes: a copy inside one gateway stays server-side (CopyObject, or UploadPartCopy
// above a size threshold, so there is no 5 GB cap); a copy between gateways streams the source
// into a multipart upload with a bounded queue of parts (lib-storage), so memory is about two
// parts whatever the object's size.
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  type CopyObjectCommandInput,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  type HeadObjectCommandOutput,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { copySource } from "./object-state.ts";

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

/** Copies within one gateway, server-side. `params` carry MetadataDirective/TaggingDirective. */
export async function copyWithin(
  src: SourceObject,
  bucket: string,
  key: string,
  params: TargetParams,
  sizes: TransferSizes,
): Promise<void> {
  const CopySource = copySource(src.bucket, src.key, src.versionId);
  const size = src.head.ContentLength ?? 0;
  if (size <= sizes.multipartThreshold) {
    await src.s3.send(new CopyObjectCommand({ ...params, Bucket: bucket, Key: key, CopySource }));
    return;
  }
  // UploadPartCopy takes no directives: the upload is created with the metadata and tags itself.
  const { MetadataDirective, TaggingDirective, ...rest } = params;
  const meta = MetadataDirective === "REPLACE" ? {} : headMetadata(src.head);
  const Tagging = TaggingDirective === "REPLACE" ? params.Tagging : await sourceTagging(src);
  const created = await src.s3.send(
    new CreateMultipartUploadCommand({ ...meta, ...rest, Tagging, Bucket: bucket, Key: key }),
  );
  const UploadId = created.UploadId;
  const parts: { PartNumber: number; ETag?: string }[] = [];
  const part = partSize(size, sizes.partBytes);
  for (let start = 0, PartNumber = 1; start < size; start += part, PartNumber++) {
    const end = Math.min(size, start + part) - 1;
    const out = await src.s3.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        PartNumber,
        CopySource,
        CopySourceRange: `bytes=${start}-${end}`,
      }),
    );
    parts.push({ PartNumber, ETag: out.CopyPartResult?.ETag });
  }
  await src.s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}

/** Copies to another gateway by streaming: a multipart upload with at most two parts in flight. */
export async function copyAcross(
  src: SourceObject,
  target: S3Client,
  bucket: string,
  key: string,
  params: TargetParams,
  sizes: TransferSizes,
): Promise<void> {
  const { MetadataDirective, TaggingDirective, ...rest } = params;
  const meta = MetadataDirective === "REPLACE" ? {} : headMetadata(src.head);
  const Tagging = TaggingDirective === "REPLACE" ? params.Tagging : await sourceTagging(src);
  const got = await src.s3.send(
    new GetObjectCommand({
      Bucket: src.bucket,
      Key: src.key,
      VersionId: src.versionId,
      IfMatch: src.head.ETag,
    }),
  );
  if (!got.Body) throw new Error("the source object has no body");
  const upload = new Upload({
    client: target,
    params: {
      ...meta,
      ...rest,
      ...(Tagging ? { Tagging } : {}),
      Bucket: bucket,
      Key: key,
      Body: got.Body as ReadableStream,
    },
    partSize: partSize(src.head.ContentLength ?? 0, sizes.partBytes),
    // One part in flight while the next fills: memory per copy is about two parts.
    queueSize: 1,
    leavePartsOnError: false,
  });
  await upload.done();
}
