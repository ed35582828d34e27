// Driving jobs through the S3 Control API as a user does, with @aws-sdk/client-s3-control.
import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  type JobDescriptor,
  type S3ControlClient,
} from "@aws-sdk/client-s3-control";
import { reportKeys } from "../../lib/report/layout.ts";
import { objectExists, readText } from "./buckets.ts";
import { ACCOUNT_ID, accountOf, ROLE_ARN } from "./clients.ts";

export { ROLE_ARN };

type JobOverrides = Partial<CreateJobCommandInput>;

export function createJobInput(
  manifest: { arn: string; etag: string },
  operation: CreateJobCommandInput["Operation"],
  overrides: JobOverrides = {},
): CreateJobCommandInput {
  return {
    AccountId: ACCOUNT_ID,
    ConfirmationRequired: false,
    Operation: operation,
    Report: {
      Bucket: "arn:aws:s3:::pool2",
      Format: "Report_CSV_20180820",
      Enabled: true,
      Prefix: "JobReport/RestoreReports",
      ReportScope: "AllTasks",
    },
    ClientRequestToken: randomUUID(),
    Manifest: {
      Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
      Location: { ObjectArn: manifest.arn, ETag: manifest.etag },
    },
    Priority: 10,
    RoleArn: ROLE_ARN,
    ...overrides,
  };
}

export async function createJob(
  client: S3ControlClient,
  input: CreateJobCommandInput,
  customize?: (command: CreateJobCommand) => void,
): Promise<string> {
  const command = new CreateJobCommand(input);
  customize?.(command);
  const out = await client.send(command);
  if (!out.JobId) throw new Error("CreateJob returned no JobId");
  return out.JobId;
}

export async function describeJob(client: S3ControlClient, jobId: string): Promise<JobDescriptor> {
  const out = await client.send(new DescribeJobCommand({ AccountId: accountOf(client), JobId: jobId }));
  if (!out.Job) throw new Error("DescribeJob returned no Job");
  return out.Job;
}

const TERMINAL = new Set(["Complete", "Cancelled", "Failed"]);

/** Polls DescribeJob until the job reaches one of `statuses` (default: a terminal one). */
export async function waitForJob(
  client: S3ControlClient,
  jobId: string,
  statuses: Set<string> = TERMINAL,
  timeoutMs = 90_000,
): Promise<JobDescriptor> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await describeJob(client, jobId);
    if (job.Status && statuses.has(job.Status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.Status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Creates the job with its report in `reportBucket`, under a fresh prefix. */
export async function createReportedJob(
  control: S3ControlClient,
  reportBucket: string,
  input: CreateJobCommandInput,
  reportScope: "AllTasks" | "FailedTasksOnly" = "AllTasks",
  customize?: (command: CreateJobCommand) => void,
) {
  const prefix = `r-${randomUUID().slice(0, 8)}`;
  const jobId = await createJob(
    control,
    {
      ...input,
      Report: {
        Bucket: `arn:aws:s3:::${reportBucket}`,
        Format: "Report_CSV_20180820",
        Enabled: true,
        Prefix: prefix,
        ReportScope: reportScope,
      },
    },
    customize,
  );
  return { jobId, keys: reportKeys(prefix, jobId) };
}

/** Waits for a job made by createReportedJob to end; returns it with its report's two files. */
export async function finishReportedJob(
  control: S3ControlClient,
  reports: S3Client,
  reportBucket: string,
  created: Awaited<ReturnType<typeof createReportedJob>>,
  timeoutMs?: number,
) {
  const job = await waitForJob(control, created.jobId, undefined, timeoutMs);
  // A job that failed before it ran (a bad manifest, say) writes no report at all.
  if (!(await objectExists(reports, reportBucket, created.keys.manifest)))
    return { job, ...created, report: false, succeeded: "", failed: "" };
  // The report's manifest.json lists the files written; a file it does not list has no rows.
  const manifest = JSON.parse(await readText(reports, reportBucket, created.keys.manifest)) as {
    Results: { TaskExecutionStatus: string; Key: string }[];
  };
  const file = async (s: "succeeded" | "failed") => {
    const listed = manifest.Results.find((r) => r.TaskExecutionStatus === s);
    return listed ? readText(reports, reportBucket, listed.Key) : "";
  };
  return { job, ...created, report: true, succeeded: await file("succeeded"), failed: await file("failed") };
}

/**
 * Creates the job with its report in `reportBucket` (under a fresh prefix), waits for it to end,
 * and returns it with the report's two files as `reports` reads them ("" for a file not written).
 */
export async function runReportedJob(
  control: S3ControlClient,
  reports: S3Client,
  reportBucket: string,
  input: CreateJobCommandInput,
  {
    reportScope = "AllTasks",
    timeoutMs,
  }: { reportScope?: "AllTasks" | "FailedTasksOnly"; timeoutMs?: number } = {},
) {
  const created = await createReportedJob(control, reportBucket, input, reportScope);
  return finishReportedJob(control, reports, reportBucket, created, timeoutMs);
}
