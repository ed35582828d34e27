// A snapshot of every key and ETag in the internal bucket: "nothing was written" made checkable.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

export async function internalSnapshot(s3: S3Client, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key ?? "", o.ETag ?? "");
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}
