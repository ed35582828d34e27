// Gateway bucket fixtures: empty-and-recreate, so a scenario that needs fixed bucket names
// ("pool", "pool2") starts from nothing every time.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";

export async function freshBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    // Every version and delete marker, so that versioned buckets empty too.
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      const all = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
      for (const o of all)
        await s3.send(
          new DeleteObjectCommand({
            Bucket: bucket,
            Key: o.Key,
            VersionId: o.VersionId,
          }),
        );
      if (!page.IsTruncated || all.length === 0) break;
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && err.name === "NoSuchBucket")) throw err;
  }
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}

export async function readText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToString()) ?? "";
}

export async function listKeys(s3: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? "").sort();
}

/** Whether the object exists: only a 404 says no; any other error is thrown. */
export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
    throw err;
  }
}
