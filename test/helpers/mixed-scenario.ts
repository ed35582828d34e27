// A mixed job of any size over the federation, for the fault and stress tests: objects on A, on
// B, on both, and (given the third gateway, a real Ceph RGW) on R and on all three, missing
// objects, and a bucket no gateway holds. Where row i's object lives is a function of i, so the
// expected report and the effects to check follow from the row number.
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";

export type Place = "a" | "b" | "r" | "both" | "all" | "missing" | "nobucket";

/** Row i's place, cycling through `places`: by default 30% on A, 30% on B, 20% on both, 10% each missing. */
export const MIXED: readonly Place[] = ["a", "a", "a", "b", "b", "b", "both", "both", "missing", "nobucket"];
/** The same over three gateways: 20% on A, 20% on B, 20% on R, 10% on A and B, 10% on all three. */
export const MIXED_THREE: readonly Place[] = [
  "a",
  "a",
  "b",
  "b",
  "r",
  "r",
  "both",
  "all",
  "missing",
  "nobucket",
];
/** Every object exists somewhere. */
export const EVERY_OBJECT_EXISTS: readonly Place[] = ["a", "b", "both"];
export const EVERY_OBJECT_EXISTS_THREE: readonly Place[] = ["a", "b", "r", "both", "all"];
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

/** The gateways a place puts an object on, of A, B and R. */
export function holdersOf<T>(place: Place, a: T, b: T, r?: T): T[] {
  const on: Record<Place, (T | undefined)[]> = {
    a: [a],
    b: [b],
    r: [r],
    both: [a, b],
    all: [a, b, r],
    missing: [],
    nobucket: [],
  };
  return on[place].filter((x): x is T => x !== undefined);
}

async function ensure(s3: S3Client, Bucket: string) {
  try {
    await s3.send(new CreateBucketCommand({ Bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && /BucketAlready/.test(err.name))) throw err;
  }
}

/**
 * Writes the objects (16 at a time per gateway) and the manifest (on A) of `rows` rows. With `r`
 * (the third gateway) the bucket is on all three, and the default places spread over them.
 */
export async function mixedScenario(
  a: S3Client,
  b: S3Client,
  bucket: string,
  rows: number,
  places?: readonly Place[],
  r?: S3Client,
): Promise<MixedScenario> {
  const cycle = places ?? (r ? MIXED_THREE : MIXED);
  if (!r && cycle.some((p) => p === "r" || p === "all"))
    throw new Error("places on R need the third gateway");
  const placeOf = (i: number) => cycle[i % cycle.length] as Place;
  const gateways = r ? [a, b, r] : [a, b];
  for (const s3 of gateways) await ensure(s3, bucket);
  const limits = new Map(gateways.map((s3) => [s3, pLimit(16)]));
  const puts: Promise<unknown>[] = [];
  for (let i = 0; i < rows; i++) {
    const Key = keyOf(i);
    for (const s3 of holdersOf(placeOf(i), a, b, r))
      puts.push(
        limits.get(s3)?.(() =>
          s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key })),
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
  r?: S3Client,
): Promise<string[]> {
  const bad: string[] = [];
  const limit = pLimit(16);
  const name = (s3: S3Client) => (s3 === a ? "a" : s3 === b ? "b" : "r");
  await Promise.all(
    sample.flatMap((i) =>
      holdersOf(s.placeOf(i), a, b, r).map((s3) =>
        limit(async () => {
          const got = await s3.send(new GetObjectTaggingCommand({ Bucket: s.bucket, Key: keyOf(i) }));
          const same = JSON.stringify(got.TagSet ?? []) === JSON.stringify(tags);
          if (!same) bad.push(`${keyOf(i)} on ${name(s3)}`);
        }),
      ),
    ),
  );
  return bad;
}
