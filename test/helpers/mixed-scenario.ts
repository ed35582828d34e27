// A mixed job of any size over both gateways, for the fault and stress tests: objects on A, on B
// and on both, missing objects, and a bucket no gateway holds. Where row i's object lives is a
// function of i, so the expected report and the effects to check follow from the row number.
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";

export type Place = "a" | "b" | "both" | "missing" | "nobucket";

/** Row i's place, cycling through `places`: by default 30% on A, 30% on B, 20% on both, 10% each missing. */
export const MIXED: readonly Place[] = ["a", "a", "a", "b", "b", "b", "both", "both", "missing", "nobucket"];
/** Every object exists somewhere. */
export const EVERY_OBJECT_EXISTS: readonly Place[] = ["a", "b", "both"];
export const keyOf = (i: number) => `k/${String(i).padStart(8, "0")}`;
export const NO_BUCKET = "mix-nobody-holds-this";

export interface MixedScenario {
  bucket: string;
  rows: number;
  placeOf: (i: number) => Place;
  manifest: { arn: string; etag: string };
  /** The report's two files for a job whose operation succeeds on every object it finds. */
  expected: { succeeded: string; failed: string };
}

async function ensure(s3: S3Client, Bucket: string) {
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && /BucketAlready/.test(err.name))) throw err;
  }
}

/** Writes the objects (16 at a time per gateway) and the manifest (on A) of `rows` rows. */
export async function mixedScenario(
  a: S3Client,
  b: S3Client,
  bucket: string,
  rows: number,
  places: readonly Place[] = MIXED,
): Promise<MixedScenario> {
  const placeOf = (i: number) => places[i % places.length] as Place;
  await ensure(a, bucket);
  await ensure(b, bucket);
  const limits = [pLimit(16), pLimit(16)];
  const puts: Promise<unknown>[] = [];
  for (let i = 0; i < rows; i++) {
    const p = placeOf(i);
    const Key = keyOf(i);
    if (p === "a" || p === "both")
      puts.push(
        limits[0]?.(() =>
          a.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key })),
        ) as Promise<unknown>,
      );
    if (p === "b" || p === "both")
      puts.push(
        limits[1]?.(() =>
          b.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key })),
        ) as Promise<unknown>,
      );
  }
  await Promise.all(puts);
  let manifest = "";
  let succeeded = "";
  let failed = "";
  for (let i = 0; i < rows; i++) {
    const p = placeOf(i);
    const b2 = p === "nobucket" ? NO_BUCKET : bucket;
    manifest += `${b2},${keyOf(i)}\n`;
    if (p === "missing")
      failed += `${b2},${keyOf(i)},,failed,404,NoSuchKey,The specified key does not exist on any endpoint\n`;
    else if (p === "nobucket")
      failed += `${b2},${keyOf(i)},,failed,404,NoSuchBucket,The specified bucket does not exist on any endpoint\n`;
    else succeeded += `${b2},${keyOf(i)},,succeeded,200,,Successful\n`;
  }
  const put = await a.send(
    new PutObjectCommand({ Bucket: bucket, Key: `manifest-${rows}.csv`, Body: manifest }),
  );
  return {
    bucket,
    rows,
    placeOf,
    manifest: { arn: `arn:aws:s3:::${bucket}/manifest-${rows}.csv`, etag: put.ETag ?? "" },
    expected: { succeeded, failed },
  };
}

/** Rows whose tags differ from `tags` on a gateway holding the object, among `sample` rows. */
export async function tagMismatches(
  a: S3Client,
  b: S3Client,
  s: MixedScenario,
  tags: { Key: string; Value: string }[],
  sample: number[],
): Promise<string[]> {
  const bad: string[] = [];
  const limit = pLimit(16);
  await Promise.all(
    sample.flatMap((i) => {
      const p = s.placeOf(i);
      const on = p === "a" ? [a] : p === "b" ? [b] : p === "both" ? [a, b] : [];
      return on.map((s3) =>
        limit(async () => {
          const got = await s3.send(new GetObjectTaggingCommand({ Bucket: s.bucket, Key: keyOf(i) }));
          const same = JSON.stringify(got.TagSet ?? []) === JSON.stringify(tags);
          if (!same) bad.push(`${keyOf(i)} on ${s3 === a ? "a" : "b"}`);
        }),
      );
    }),
  );
  return bad;
}
