// The job-management operations behind UpdateJobPriority, UpdateJobStatus, the tagging calls and
// ListJobs. Each is one conditional write (or a read), mapped to S3 Control errors.
import type { Context } from "../context.ts";
import { S3ControlError } from "../errors.ts";
import {
  JOB_ID_PATTERN,
  type JobRecord,
  type JobStatus,
  STARTED_STATUSES,
  UNSTARTED_STATUSES,
} from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { jobEvent, jobGet, jobUpdate } from "../jobs/store.ts";
import {
  JobStatusError,
  jobMarkCancelled,
  jobMarkCancelling,
  jobMarkReady,
  type TransitionPatch,
} from "../jobs/transitions.ts";
import { newAttempt } from "../leases/lease.ts";
import { checkTarget, NOTIFY_TAG } from "../notify/notify.ts";
import { pendingReprioritize } from "../steps/priority.ts";

type Deps = Pick<Context, "store" | "queue" | "settings">;
type Tag = JobRecord["tags"][number];

const statusError = (message: string) => new S3ControlError("JobStatusException", 409, message);
const missing = (ref: JobRef) =>
  new S3ControlError("NotFoundException", 404, `The job ${ref.jobId} does not exist`);

export const MAX_JOB_TAGS = 50;

export async function jobRequire(deps: Pick<Context, "store">, ref: JobRef): Promise<JobRecord> {
  const job = await jobGet(deps.store, ref);
  if (!job) throw missing(ref);
  return job.value;
}

export async function jobSetPriority(deps: Deps, ref: JobRef, priority: number): Promise<JobRecord> {
  let previous = priority;
  const job = await jobUpdate(deps.store, ref, (j) => {
    previous = j.priority;
    return j.priority === priority ? undefined : { ...j, priority };
  });
  if (!job) throw missing(ref);
  await pendingReprioritize(deps, ref, previous, priority);
  await jobEvent(deps.store, ref, "priority", { priority });
  return job;
}

/** UpdateJobStatus: Ready confirms a Suspended job; Cancelled stops one that has not ended. */
export async function jobRequestStatus(
  deps: Deps,
  ref: JobRef,
  requested: "Ready" | "Cancelled",
  reason: string | undefined,
): Promise<JobRecord> {
  const job = await jobRequire(deps, ref);
  const patch: TransitionPatch = reason ? { statusUpdateReason: reason } : {};
  try {
    if (requested === "Ready") {
      if (job.status !== "Suspended")
        throw statusError(`Only a Suspended job can be confirmed; this one is ${job.status}`);
      // Confirming answers at once: dispatch starts the job (one message per child) in the
      // pipeline, and the reconciler's chain, restarted here, drives it again if it dies.
      const ready = await jobMarkReady(deps.store, ref, patch);
      await deps.queue.send({ v: 1, type: "dispatch", accountId: ref.accountId, jobId: ref.jobId });
      await deps.queue.send(
        { v: 1, type: "poll", accountId: ref.accountId, jobId: ref.jobId, chain: true, token: newAttempt() },
        deps.settings.pollDelaySeconds,
      );
      return ready;
    }
    if (UNSTARTED_STATUSES.includes(job.status)) return await jobMarkCancelled(deps.store, ref, patch);
    if (STARTED_STATUSES.includes(job.status)) return await jobMarkCancelling(deps.store, ref, patch);
    throw statusError(`A job in status ${job.status} cannot be cancelled`);
  } catch (err) {
    if (err instanceof JobStatusError) throw statusError(err.message);
    throw err;
  }
}

export async function jobSetTags(deps: Deps, ref: JobRef, tags: Tag[]): Promise<void> {
  if (tags.length > MAX_JOB_TAGS) {
    throw new S3ControlError("TooManyTagsException", 400, `A job can have at most ${MAX_JOB_TAGS} tags`);
  }
  const keys = new Set(tags.map((t) => t.Key));
  if (keys.size !== tags.length)
    throw new S3ControlError("InvalidRequestException", 400, "Tag keys must be unique");
  const notify = tags.find((t) => t.Key === NOTIFY_TAG);
  if (notify) checkTarget(notify.Value, deps.settings.notify);
  const job = await jobUpdate(deps.store, ref, (j) => ({ ...j, tags }));
  if (!job) throw missing(ref);
  await jobEvent(deps.store, ref, "tags", { count: tags.length });
}

export interface ListJobsPage {
  jobs: JobRecord[];
  nextToken?: string;
}

const SCAN_LIMIT = 1000;

export function decodeNextToken(token: string): string {
  let after: unknown;
  try {
    after = JSON.parse(atob(token.replace(/-/g, "+").replace(/_/g, "/"))).after;
  } catch {
    after = undefined;
  }
  if (typeof after !== "string" || !JOB_ID_PATTERN.test(after)) {
    throw new S3ControlError("InvalidNextTokenException", 400, "The NextToken is not valid");
  }
  return after;
}

const encodeNextToken = (after: string) =>
  btoa(JSON.stringify({ after })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/**
 * Lists an account's jobs, newest first, `max` per page. With a status filter a page reads at
 * most SCAN_LIMIT jobs, so a sparse filter may return a short page with a NextToken.
 */
export async function listJobs(
  deps: Pick<Context, "store">,
  accountId: string,
  statuses: readonly JobStatus[],
  max: number,
  nextToken: string | undefined,
): Promise<ListJobsPage> {
  let after = nextToken ? decodeNextToken(nextToken) : undefined;
  const jobs: JobRecord[] = [];
  let scanned = 0;
  let more = true;
  while (jobs.length < max && scanned < SCAN_LIMIT && more) {
    const want = statuses.length === 0 ? max - jobs.length : Math.min(100, SCAN_LIMIT - scanned);
    const page = await deps.store.listFolders(paths.accountJobs(accountId), after, want);
    more = page.more;
    const records = await Promise.all(page.names.map((jobId) => jobGet(deps.store, { accountId, jobId })));
    for (const [i, jobId] of page.names.entries()) {
      if (jobs.length >= max) {
        more = true;
        break;
      }
      after = jobId;
      scanned++;
      const job = records[i]?.value;
      // A survey job is its job's, not one of the account's jobs.
      if (job && !job.surveyOf && (statuses.length === 0 || statuses.includes(job.status))) jobs.push(job);
    }
    if (page.names.length === 0) more = false;
  }
  return { jobs, ...(more && after ? { nextToken: encodeNextToken(after) } : {}) };
}
