// Writes one object to several endpoints at once, from a single pass over its content: text is
// buffered up to one part, each full part is uploaded to every target in parallel (multipart),
// and the MD5 of the whole object is computed on the way. Memory is one part per writer.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Md5 } from "@smithy/md5-js";

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
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export class FanoutWriter {
  private chunks: string[] = [];
  private buffered = 0;
  private uploads: Upload[] | undefined;
  private readonly md5 = new Md5();
  private total = 0;

  constructor(
    readonly targets: WriteTarget[],
    readonly partBytes: number,
    readonly contentType = "text/csv",
  ) {}

  async write(text: string): Promise<void> {
    this.chunks.push(text);
    this.buffered += text.length; // UTF-16 units: a lower bound of the bytes, enough to decide a flush
    if (this.buffered >= this.partBytes) await this.flushPart();
  }

  /** Completes the object on every target; returns its size and MD5 (hex). Writes nothing if empty. */
  async finish(): Promise<{ bytes: number; md5: string }> {
    const body = this.take();
    if (!this.uploads) {
      if (body.length > 0) {
        this.md5.update(body);
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
      if (body.length > 0) await this.uploadPart(body);
      await Promise.all(
        this.uploads.map((u) =>
          u.target.s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: u.target.bucket,
              Key: u.target.key,
              UploadId: u.uploadId,
              MultipartUpload: { Parts: u.parts },
            }),
          ),
        ),
      );
    }
    this.total += body.length;
    return { bytes: this.total, md5: toHex(await this.md5.digest()) };
  }

  /** Aborts any multipart uploads in flight; the bucket's lifecycle rule is the second net. */
  async abort(): Promise<void> {
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

  private take(): Uint8Array {
    const body = encoder.encode(this.chunks.join(""));
    this.chunks = [];
    this.buffered = 0;
    return body;
  }

  private async flushPart(): Promise<void> {
    const body = this.take();
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
    await this.uploadPart(body);
    this.total += body.length;
  }

  private async uploadPart(body: Uint8Array): Promise<void> {
    this.md5.update(body);
    const uploads = this.uploads ?? [];
    await Promise.all(
      uploads.map(async (u) => {
        const PartNumber = u.parts.length + 1;
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
    );
  }
}
