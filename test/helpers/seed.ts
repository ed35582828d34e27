// The seed scenario: gateway A holds pool/obj1, gateway B holds pool/obj2 (both GLACIER), nobody
// holds pool/missing-obj; the manifest lives on A; pool2 (the report bucket) exists on both.
import { ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { JobDescriptor } from "@aws-sdk/client-s3-control";
import { expect } from "vitest";
import { freshBucket, listKeys, readText } from "./buckets.ts";

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

export const SEED_REPORT_PREFIX = "JobReport/RestoreReports";

/** The seed job's report as each gateway holding pool2 has it: manifest.json, rows, keys. */
export async function readSeedReport(gatewayA: S3Client, gatewayB: S3Client, jobId: string) {
  const perGateway = [];
  for (const s3 of [gatewayA, gatewayB]) {
    const base = `${SEED_REPORT_PREFIX}/job-${jobId}`;
    const manifest = JSON.parse(await readText(s3, "pool2", `${base}/manifest.json`));
    const rows = { succeeded: [] as string[], failed: [] as string[] };
    for (const r of manifest.Results as { TaskExecutionStatus: "succeeded" | "failed"; Key: string }[]) {
      rows[r.TaskExecutionStatus].push(...(await readText(s3, "pool2", r.Key)).trim().split("\n"));
    }
    const open = (await s3.send(new ListMultipartUploadsCommand({ Bucket: "pool2" }))).Uploads ?? [];
    perGateway.push({ manifest, rows, keys: await listKeys(s3, "pool2", `${base}/`), open });
  }
  return perGateway;
}

/** The seed job's report, exact on both gateways: obj1 and obj2 succeeded, missing-obj NoSuchKey. */
export async function expectSeedReport(gatewayA: S3Client, gatewayB: S3Client, jobId: string) {
  const reports = await readSeedReport(gatewayA, gatewayB, jobId);
  for (const report of reports) {
    expect(report.manifest).toMatchObject({
      Format: "Report_CSV_20180820",
      ReportSchema: expect.any(String),
    });
    expect(report.manifest.Results.map((r: { Bucket: string }) => r.Bucket)).toEqual(["pool2", "pool2"]);
    expect(report.rows.succeeded).toEqual([
      "pool,obj1,,succeeded,200,,Successful",
      "pool,obj2,,succeeded,200,,Successful",
    ]);
    expect(report.rows.failed).toEqual([
      "pool,missing-obj,,failed,404,NoSuchKey,The specified key does not exist on any endpoint",
    ]);
    expect(report.open).toEqual([]);
  }
  expect(reports[0]?.keys).toEqual(reports[1]?.keys);
  expect(reports[0]?.manifest).toEqual(reports[1]?.manifest);
}
