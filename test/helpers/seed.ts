// The seed scenario: gateway A holds pool/obj1, gateway B holds pool/obj2 (both GLACIER), nobody
// holds pool/missing-obj; the manifest lives on A; pool2 (the report bucket) exists on both.
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { JobDescriptor } from "@aws-sdk/client-s3-control";
import { expect } from "vitest";
import { freshBucket } from "./buckets.ts";

export const SEED_MANIFEST = "pool,obj1\npool,obj2\npool,missing-obj\n";

/**
 * Seeds both gateways. `storageClass` is GLACIER for restores; tagging scenarios use STANDARD
 * because moto refuses GetObjectTagging on archived objects (AWS does not), which would stop the
 * test from reading the tags back.
 */
export async function seedScenario(
  gatewayA: S3Client,
  gatewayB: S3Client,
  {
    manifestBody = SEED_MANIFEST,
    storageClass = "GLACIER",
  }: { manifestBody?: string; storageClass?: "GLACIER" | "STANDARD" } = {},
): Promise<{ arn: string; etag: string }> {
  for (const s3 of [gatewayA, gatewayB]) {
    await freshBucket(s3, "pool");
    await freshBucket(s3, "pool2");
  }
  const put = (s3: S3Client, Key: string, Body: string, StorageClass?: "GLACIER" | "STANDARD") =>
    s3.send(new PutObjectCommand({ Bucket: "pool", Key, Body, ...(StorageClass ? { StorageClass } : {}) }));
  await put(gatewayA, "obj1", "object one", storageClass);
  await put(gatewayB, "obj2", "object two", storageClass);
  const manifest = await put(gatewayA, "manifest.csv", manifestBody);
  return { arn: "arn:aws:s3:::pool/manifest.csv", etag: manifest.ETag ?? "" };
}

/** The seed job's outcome as a user reads it: Complete, 3 tasks, 2 succeeded, 1 failed. */
export function expectSeedOutcome(job: JobDescriptor): void {
  expect(job.Status).toBe("Complete");
  expect(job.ProgressSummary).toMatchObject({
    TotalNumberOfTasks: 3,
    NumberOfTasksSucceeded: 2,
    NumberOfTasksFailed: 1,
  });
}
