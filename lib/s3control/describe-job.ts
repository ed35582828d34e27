// The JobDescriptor that DescribeJob returns, made from a job record.
import type { JobRecord } from "../jobs/model.ts";

export function jobDescriptor(job: JobRecord, region: string): Record<string, unknown> {
  const r = job.request;
  const active = job.phaseTimes.Active;
  const activeEnd =
    job.terminationDate ?? job.phaseTimes.Completing ?? job.phaseTimes.Cancelling ?? job.phaseTimes.Failing;
  const elapsed = active
    ? Math.max(0, Math.round((Date.parse(activeEnd ?? new Date().toISOString()) - Date.parse(active)) / 1000))
    : 0;
  return {
    JobId: job.jobId,
    ConfirmationRequired: r.ConfirmationRequired ?? false,
    Description: r.Description,
    JobArn: `arn:aws:s3:${region}:${job.accountId}:job/${job.jobId}`,
    Status: job.status,
    Manifest: r.Manifest,
    Operation: r.Operation,
    Priority: job.priority,
    ProgressSummary: {
      TotalNumberOfTasks: job.progress.total,
      NumberOfTasksSucceeded: job.progress.succeeded,
      NumberOfTasksFailed: job.progress.failed,
      Timers: { ElapsedTimeInActiveSeconds: elapsed },
    },
    StatusUpdateReason: job.statusUpdateReason,
    FailureReasons: job.failureReasons.length > 0 ? job.failureReasons : undefined,
    Report: r.Report,
    CreationTime: job.createdAt,
    TerminationDate: job.terminationDate,
    RoleArn: r.RoleArn,
    SuspendedDate: job.phaseTimes.Suspended,
    SuspendedCause: job.phaseTimes.Suspended ? "Confirmation required" : undefined,
  };
}
