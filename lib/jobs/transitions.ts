// The job state machine. Each status change is one conditional write of job.json that also
// appends the change to the record's history, so no crash can separate a change from its
// event; moving to the status a job already has is a no-op, so every reconciler can run twice.
// docs/job-states.md draws the same table.
import { S3BatchError } from "../errors.ts";
import type { JsonStore } from "../store/json-store.ts";
import type {
  FailureReason,
  GeneratedManifestDescriptor,
  JobRecord,
  JobStatus,
  Progress,
  StatusEvent,
} from "./model.ts";
import { TERMINAL_STATUSES } from "./model.ts";
import type { JobRef } from "./paths.ts";
import { jobUpdate } from "./store.ts";

export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  New: ["Preparing", "Cancelled", "Failed"],
  Preparing: ["Suspended", "Ready", "Cancelled", "Failed"],
  Suspended: ["Ready", "Cancelled"],
  Ready: ["Active", "Cancelled", "Failed"],
  Active: ["Completing", "Cancelling", "Failing", "Pausing"],
  Pausing: ["Paused", "Cancelling"],
  Paused: ["Active", "Cancelling"],
  // A closing job whose report cannot be written fails (ReportFailed).
  Completing: ["Complete", "Failed"],
  Cancelling: ["Cancelled", "Failed"],
  Failing: ["Failed"],
  Complete: [],
  Cancelled: [],
  Failed: [],
};

/** The job is in a status from which the requested change is not allowed. */
export class JobStatusError extends S3BatchError {
  constructor(
    readonly from: JobStatus,
    readonly to: JobStatus,
  ) {
    super(`a job in status ${from} cannot move to ${to}`);
  }
}

export interface TransitionPatch {
  progress?: Progress;
  failureReasons?: FailureReason[];
  statusUpdateReason?: string;
  generatedManifest?: GeneratedManifestDescriptor;
}

/** FailureReasons kept on a job: enough for every cause, bounded whatever happens. */
const MAX_FAILURE_REASONS = 20;

async function jobTransition(
  store: JsonStore,
  ref: JobRef,
  to: JobStatus,
  patch: TransitionPatch = {},
): Promise<JobRecord> {
  let from: JobStatus | undefined;
  const job = await jobUpdate(store, ref, (current) => {
    from = undefined;
    if (current.status === to) return undefined;
    from = current.status;
    if (!TRANSITIONS[current.status].includes(to)) throw new JobStatusError(current.status, to);
    const now = new Date().toISOString();
    const event: StatusEvent = {
      status: to,
      at: now,
      ...(patch.statusUpdateReason ? { statusUpdateReason: patch.statusUpdateReason } : {}),
      ...(patch.failureReasons?.length ? { failureReasons: patch.failureReasons } : {}),
    };
    return {
      ...current,
      ...patch,
      failureReasons: [...current.failureReasons, ...(patch.failureReasons ?? [])].slice(
        0,
        MAX_FAILURE_REASONS,
      ),
      status: to,
      phaseTimes: { ...current.phaseTimes, [to]: current.phaseTimes[to] ?? now },
      history: [...current.history, event],
      ...(TERMINAL_STATUSES.includes(to) ? { terminationDate: now } : {}),
    };
  });
  if (!job) throw new S3BatchError(`job ${ref.jobId} does not exist`);
  if (from)
    store.log?.info("job status changed", {
      jobId: job.jobId,
      accountId: job.accountId,
      from,
      to,
      total: job.progress.total,
      succeeded: job.progress.succeeded,
      failed: job.progress.failed,
      ...(patch.statusUpdateReason ? { reason: patch.statusUpdateReason } : {}),
      ...(patch.failureReasons?.length
        ? { failureCodes: patch.failureReasons.map((f) => f.FailureCode) }
        : {}),
    });
  return job;
}

type Mark = (store: JsonStore, ref: JobRef, patch?: TransitionPatch) => Promise<JobRecord>;
const mark =
  (to: JobStatus): Mark =>
  (store, ref, patch) =>
    jobTransition(store, ref, to, patch);

export const jobMarkPreparing = mark("Preparing");
export const jobMarkSuspended = mark("Suspended");
export const jobMarkReady = mark("Ready");
export const jobMarkActive = mark("Active");
export const jobMarkCompleting = mark("Completing");
export const jobMarkComplete = mark("Complete");
export const jobMarkCancelling = mark("Cancelling");
export const jobMarkCancelled = mark("Cancelled");
export const jobMarkFailing = mark("Failing");
export const jobMarkFailed = mark("Failed");

/** The failure code of rows whose child was given up, and of its FailureReason on the job. */
export const EXHAUSTED_CODE = "AttemptsExhausted";

/**
 * Notes a child given up on `endpointId` in the job record: the endpoint's count goes up by one and
 * its one FailureReason (bounded by the endpoint count, whatever the number of shards) says how
 * many and the latest reason. Not a status change: the job carries on, and the failure threshold
 * sees the child's rows as failed.
 */
export async function jobNoteExhausted(
  store: JsonStore,
  ref: JobRef,
  endpointId: string,
  message: string,
): Promise<void> {
  const prefix = `endpoint ${endpointId}: `;
  await jobUpdate(store, ref, (j) => {
    const shards = (j.exhaustedShards?.[endpointId] ?? 0) + 1;
    const reason: FailureReason = {
      FailureCode: EXHAUSTED_CODE,
      FailureReason:
        `${prefix}${shards} ${shards === 1 ? "shard" : "shards"} not completed; last: ${message}`.slice(
          0,
          256,
        ),
    };
    const at = j.failureReasons.findIndex(
      (r) => r.FailureCode === EXHAUSTED_CODE && r.FailureReason.startsWith(prefix),
    );
    const failureReasons =
      at === -1
        ? [...j.failureReasons, reason].slice(0, MAX_FAILURE_REASONS)
        : j.failureReasons.map((r, i) => (i === at ? reason : r));
    return { ...j, failureReasons, exhaustedShards: { ...j.exhaustedShards, [endpointId]: shards } };
  });
}
