// A merge that died mid-report leaves multipart uploads open in the report bucket, on gateways
// whose lifecycle rules we do not control. The next merge of the job aborts every upload still
// open under the job's results prefix before it writes.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from "@aws-sdk/client-s3";

/** Aborts the multipart uploads open under `prefix` but those in `keep`; returns how many it aborted. */
export async function abortOpenUploads(
  s3: S3Client,
  bucket: string,
  prefix: string,
  keep: ReadonlySet<string> = new Set(),
): Promise<number> {
  let aborted = 0;
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, UploadIdMarker }),
    );
    for (const u of page.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !u.Key.startsWith(prefix) || keep.has(u.UploadId)) continue;
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
      aborted++;
    }
    if (!page.IsTruncated) return aborted;
    KeyMarker = page.NextKeyMarker;
    UploadIdMarker = page.NextUploadIdMarker;
  }
}
