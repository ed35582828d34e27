// AWS's failure threshold: once at least 1,000 tasks ran, a failure rate over 50% fails the job
// (through Failing, with a FailureReason), and the report still covers what ran.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshBucket, readText } from "../helpers/buckets.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "400", S3BATCH_CHECKPOINT_ROWS: "200" });
});
afterAll(async () => {
  await t?.stop();
});

describe("failure threshold", () => {
  it("fails a job whose failure rate is over 50% after 1,000 tasks, with the reason", async () => {
    // Prepare: 1,200 keys that do not exist, in a bucket only gateway A holds
    await freshBucket(t.gatewayA, "only-on-a");
    const manifest = await seedScenario(t.gatewayA, t.gatewayB, {
      manifestBody: Array.from({ length: 1200 }, (_, i) => `only-on-a,gone-${i}`).join("\n"),
    });

    // Act
    const jobId = await createJob(
      t.control,
      createJobInput(manifest, {
        S3InitiateRestoreObject: { ExpirationInDays: 3, GlacierJobTier: "STANDARD" },
      }),
    );
    const job = await waitForJob(t.control, jobId, undefined, 120_000);

    // Assess
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons).toContainEqual(
      expect.objectContaining({
        FailureCode: "FailureThresholdExceeded",
        FailureReason: expect.stringMatching(/%/),
      }),
    );
    expect(job.ProgressSummary?.NumberOfTasksFailed).toBeGreaterThanOrEqual(1000);
    expect(job.ProgressSummary?.NumberOfTasksSucceeded).toBe(0);
    const report = JSON.parse(
      await readText(t.gatewayA, "pool2", `JobReport/RestoreReports/job-${jobId}/manifest.json`),
    ) as { Results: { TaskExecutionStatus: string; Key: string }[] };
    expect(report.Results.map((r) => r.TaskExecutionStatus)).toEqual(["failed"]);
    const firstRow = (await readText(t.gatewayA, "pool2", report.Results[0]?.Key ?? "")).split("\n")[0];
    expect(firstRow).toBe(
      "only-on-a,gone-0,,failed,404,NoSuchKey,The specified key does not exist on any endpoint",
    );
  });
});
