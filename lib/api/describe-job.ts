// The JobDescriptor of DescribeJob and the JobListDescriptor of ListJobs, made from a job record.
import type { JobRecord } from "../jobs/model.ts";
import { operationName } from "../s3control/create-job-schema.ts";

function progressSummary(job: JobRecord) {
  const active = job.phaseTimes.Active;
  const activeEnd =
    job.phaseTimes.Completing ?? job.phaseTimes.Cancelling ?? job.phaseTimes.Failing ?? job.terminationDate;
  const end = activeEnd ? Date.parse(activeEnd) : Date.now();
  return {
    TotalNumberOfTasks: job.progress.total,
    NumberOfTasksSucceeded: job.progress.succeeded,
    NumberOfTasksFailed: job.progress.failed,
    Timers: {
      ElapsedTimeInActiveSeconds: active ? Math.max(0, Math.round((end - Date.parse(active)) / 1000)) : 0,
    },
  };
}

/** The name of the one operation an Operation element holds (a job's, or DescribeJob's answer). */
export function jobListDescriptor(job: JobRecord): Record<string, unknown> {
  return {
    JobId: job.jobId,
    Description: job.request.Description,
    Operation: operationName(job.request.Operation),
    Priority: job.priority,
    Status: job.status,
    CreationTime: job.createdAt,
    TerminationDate: job.terminationDate,
    ProgressSummary: progressSummary(job),
  };
}

export function jobDescriptor(job: JobRecord, region: string): Record<string, unknown> {
  const r = job.request;
  return {
    JobId: job.jobId,
    ConfirmationRequired: r.ConfirmationRequired ?? false,
    Description: r.Description,
    JobArn: `arn:aws:s3:${region}:${job.accountId}:job/${job.jobId}`,
    Status: job.status,
    Manifest: r.Manifest,
    ManifestGenerator: r.ManifestGenerator,
    GeneratedManifestDescriptor: job.generatedManifest,
    Operation: r.Operation,
    Priority: job.priority,
    ProgressSummary: progressSummary(job),
    StatusUpdateReason: job.statusUpdateReason,
    FailureReasons: job.failureReasons.length > 0 ? job.failureReasons : undefined,
    Report: r.Report,
    CreationTime: job.createdAt,
    TerminationDate: job.terminationDate,
    RoleArn: r.RoleArn,
    SuspendedDate: job.phaseTimes.Suspended,
    SuspendedCause: job.phaseTimes.Suspended ? "ConfirmationRequired" : undefined,
  };
}
