// The seed scenario end to end: the real API, queues, functions and report, on two gateways.
import { GetObjectTaggingCommand, HeadObjectCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys, readText } from "../helpers/buckets.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { expectSeedOutcome, seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(async () => {
  await t?.stop();
});

const REPORT_PREFIX = "JobReport/RestoreReports";

async function readReport(jobId: string) {
  const perGateway = [];
  for (const s3 of [t.gatewayA, t.gatewayB]) {
    const manifest = JSON.parse(await readText(s3, "pool2", `${REPORT_PREFIX}/job-${jobId}/manifest.json`));
    const rows = { succeeded: [] as string[], failed: [] as string[] };
    for (const r of manifest.Results as { TaskExecutionStatus: "succeeded" | "failed"; Key: string }[]) {
      rows[r.TaskExecutionStatus].push(...(await readText(s3, "pool2", r.Key)).trim().split("\n"));
    }
    perGateway.push({ manifest, rows, keys: await listKeys(s3, "pool2", `${REPORT_PREFIX}/job-${jobId}/`) });
  }
  return perGateway;
}

describe("seed scenario", () => {
  it("restores obj1 on gateway A and obj2 on gateway B and reports missing-obj as NoSuchKey", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);

    // Act
    const jobId = await createJob(
      t.control,
      createJobInput(manifest, {
        S3InitiateRestoreObject: { ExpirationInDays: 123, GlacierJobTier: "STANDARD" },
      }),
    );
    const job = await waitForJob(t.control, jobId);

    // Assess
    expectSeedOutcome(job);
    const reports = await readReport(jobId);
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
      expect(report.rows.failed).toHaveLength(1);
      expect(report.rows.failed[0]).toMatch(/^pool,missing-obj,,failed,404,NoSuchKey,/);
    }
    expect(reports[0]?.keys).toEqual(reports[1]?.keys);
    for (const s3 of [t.gatewayA, t.gatewayB]) {
      const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: "pool2" }));
      expect(open.Uploads ?? []).toEqual([]);
    }
    expect(reports[0]?.manifest).toEqual(reports[1]?.manifest);

    const obj1 = await t.gatewayA.send(new HeadObjectCommand({ Bucket: "pool", Key: "obj1" }));
    const obj2 = await t.gatewayB.send(new HeadObjectCommand({ Bucket: "pool", Key: "obj2" }));
    expect(obj1.Restore).toMatch(/ongoing-request/);
    expect(obj2.Restore).toMatch(/ongoing-request/);
  });

  it("tags obj1 on gateway A and obj2 on gateway B", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB, { storageClass: "STANDARD" });
    const TagSet = [
      { Key: "project", Value: "seed" },
      { Key: "tier", Value: "cold storage" },
    ];

    // Act
    const jobId = await createJob(t.control, createJobInput(manifest, { S3PutObjectTagging: { TagSet } }));
    const job = await waitForJob(t.control, jobId);

    // Assess
    expectSeedOutcome(job);
    const tagsA = await t.gatewayA.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "obj1" }));
    const tagsB = await t.gatewayB.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "obj2" }));
    expect(tagsA.TagSet).toEqual(TagSet);
    expect(tagsB.TagSet).toEqual(TagSet);
    for (const report of await readReport(jobId)) {
      expect(report.rows.succeeded).toEqual([
        "pool,obj1,,succeeded,200,,Successful",
        "pool,obj2,,succeeded,200,,Successful",
      ]);
      expect(report.rows.failed[0]).toMatch(/^pool,missing-obj,,failed,404,NoSuchKey,/);
    }
  });
});
