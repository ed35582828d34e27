// Every S3 Control job operation and every user-driven status transition, through
// @aws-sdk/client-s3-control against the running API (real signing, the SDK's endpoint rules).
import { PutObjectCommand } from "@aws-sdk/client-s3";
import {
  DeleteJobTaggingCommand,
  GetJobTaggingCommand,
  IdempotencyException,
  JobStatusException,
  PutJobTaggingCommand,
  UpdateJobPriorityCommand,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys, readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { createJob, createJobInput, describeJob, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
beforeAll(async () => {
  // One child at a time and a checkpoint after every row: a running job can be caught mid-way.
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "5", S3BATCH_CHECKPOINT_ROWS: "1" }, { childWorkers: 1 });
});
afterAll(async () => {
  await t?.stop();
});

const restore = { S3InitiateRestoreObject: { ExpirationInDays: 3, GlacierJobTier: "STANDARD" as const } };
const status = (s: string[]) => new Set(s);

describe("job operations", () => {
  it("parks a job needing confirmation in Suspended, manages its tags and priority, then runs it on Ready", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);
    const jobId = await createJob(
      t.control,
      createJobInput(manifest, restore, {
        ConfirmationRequired: true,
        Description: "confirm me",
        Tags: [{ Key: "team", Value: "storage" }],
      }),
    );

    // Act / Assess: Suspended, waiting for confirmation
    const suspended = await waitForJob(t.control, jobId, status(["Suspended"]));
    expect(suspended).toMatchObject({
      Status: "Suspended",
      Description: "confirm me",
      ConfirmationRequired: true,
      SuspendedCause: "ConfirmationRequired",
      ProgressSummary: { TotalNumberOfTasks: 3 },
    });
    expect(suspended.SuspendedDate).toBeInstanceOf(Date);
    const tags = (await t.control.send(new GetJobTaggingCommand({ AccountId: ACCOUNT_ID, JobId: jobId })))
      .Tags;
    expect(tags).toEqual([{ Key: "team", Value: "storage" }]);

    await t.control.send(
      new PutJobTaggingCommand({
        AccountId: ACCOUNT_ID,
        JobId: jobId,
        Tags: [
          { Key: "owner", Value: "ops" },
          { Key: "cost-center", Value: "42" },
        ],
      }),
    );
    expect(
      (await t.control.send(new GetJobTaggingCommand({ AccountId: ACCOUNT_ID, JobId: jobId }))).Tags,
    ).toEqual([
      { Key: "owner", Value: "ops" },
      { Key: "cost-center", Value: "42" },
    ]);
    await t.control.send(new DeleteJobTaggingCommand({ AccountId: ACCOUNT_ID, JobId: jobId }));
    expect(
      (await t.control.send(new GetJobTaggingCommand({ AccountId: ACCOUNT_ID, JobId: jobId }))).Tags ?? [],
    ).toEqual([]);

    const priority = await t.control.send(
      new UpdateJobPriorityCommand({ AccountId: ACCOUNT_ID, JobId: jobId, Priority: 42 }),
    );
    expect(priority).toMatchObject({ JobId: jobId, Priority: 42 });
    expect((await describeJob(t.control, jobId)).Priority).toBe(42);

    const ready = await t.control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT_ID,
        JobId: jobId,
        RequestedJobStatus: "Ready",
        StatusUpdateReason: "looks right",
      }),
    );
    expect(ready.JobId).toBe(jobId);
    expect(["Ready", "Active"]).toContain(ready.Status);
    const done = await waitForJob(t.control, jobId);
    expect(done).toMatchObject({
      Status: "Complete",
      StatusUpdateReason: "looks right",
      ProgressSummary: { TotalNumberOfTasks: 3, NumberOfTasksSucceeded: 2, NumberOfTasksFailed: 1 },
    });
    expect(done.TerminationDate).toBeInstanceOf(Date);

    // A finished job can be neither confirmed nor cancelled.
    for (const RequestedJobStatus of ["Ready", "Cancelled"] as const) {
      await expect(
        t.control.send(
          new UpdateJobStatusCommand({ AccountId: ACCOUNT_ID, JobId: jobId, RequestedJobStatus }),
        ),
      ).rejects.toBeInstanceOf(JobStatusException);
    }
  });

  it("cancels a Suspended job at once, without a report", async () => {
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);
    const jobId = await createJob(
      t.control,
      createJobInput(manifest, restore, { ConfirmationRequired: true }),
    );
    await waitForJob(t.control, jobId, status(["Suspended"]));

    const out = await t.control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT_ID, JobId: jobId, RequestedJobStatus: "Cancelled" }),
    );

    expect(out.Status).toBe("Cancelled");
    expect((await describeJob(t.control, jobId)).Status).toBe("Cancelled");
    expect(await listKeys(t.gatewayA, "pool2", `JobReport/RestoreReports/job-${jobId}/`)).toEqual([]);
  });

  it("cancels a running job through Cancelling to Cancelled, reporting exactly the tasks that ran", async () => {
    // Prepare: 60 objects on gateway A, 12 shards run one child at a time
    const keys = Array.from({ length: 60 }, (_, i) => `obj-${String(i).padStart(3, "0")}`);
    const manifest = await seedScenario(t.gatewayA, t.gatewayB, {
      manifestBody: keys.map((k) => `pool,${k}`).join("\n"),
      storageClass: "STANDARD",
    });
    for (const Key of keys) await t.gatewayA.send(new PutObjectCommand({ Bucket: "pool", Key, Body: Key }));
    const jobId = await createJob(
      t.control,
      createJobInput(manifest, { S3PutObjectTagging: { TagSet: [{ Key: "k", Value: "v" }] } }),
    );
    await waitForJob(t.control, jobId, status(["Active"]));

    // Act
    const out = await t.control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT_ID,
        JobId: jobId,
        RequestedJobStatus: "Cancelled",
        StatusUpdateReason: "wrong manifest",
      }),
    );
    const job = await waitForJob(t.control, jobId);

    // Assess
    expect(out.Status).toBe("Cancelling");
    expect(job.Status).toBe("Cancelled");
    expect(job.StatusUpdateReason).toBe("wrong manifest");
    const ran =
      (job.ProgressSummary?.NumberOfTasksSucceeded ?? 0) + (job.ProgressSummary?.NumberOfTasksFailed ?? 0);
    expect(ran).toBeLessThan(60);
    const report = JSON.parse(
      await readText(t.gatewayA, "pool2", `JobReport/RestoreReports/job-${jobId}/manifest.json`),
    ) as { Results: { Key: string; TaskExecutionStatus: string }[] };
    const rows = (await Promise.all(report.Results.map((r) => readText(t.gatewayA, "pool2", r.Key)))).flatMap(
      (text) => text.trim().split("\n").filter(Boolean),
    );
    expect(rows).toHaveLength(ran);
    for (const row of rows) expect(row).toMatch(/^pool,obj-\d{3},,succeeded,200,,Successful$/);
  });

  it("makes CreateJob idempotent per ClientRequestToken", async () => {
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);
    const input = createJobInput(manifest, restore, { ConfirmationRequired: true });

    const first = await createJob(t.control, input);
    const again = await createJob(t.control, input);

    expect(again).toBe(first);
    await expect(createJob(t.control, { ...input, Priority: 11 })).rejects.toBeInstanceOf(
      IdempotencyException,
    );
  });
});
