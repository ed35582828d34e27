// Poll: the reconciler that owns the truth about a job, from creation to its last status. Each
// tick reads what the steps left and acts on what it sees:
//   New, Preparing, Ready   dispatch is running (its lease is live) or is driven again
//   Active, Cancelling,     children: progress summed from their markers, the failure threshold,
//   Failing                 children whose lease expired driven again or exhausted, and once
//                           every child settled, the merge
//   Completing, and the     the merge is running or is driven again; a merge that keeps dying
//   others once settled     fails the job
// Reads cost listings, not one read per child: 4,000 children are two listings of 4 pages.
// Safe to run any number of times, concurrently or after a crash.
import { childStep } from "../children/child-step.ts";
import { childKey, listProgress } from "../children/progress.ts";
import { childSettled } from "../children/state.ts";
import type { Context } from "../context.ts";
import { dispatchStep } from "../dispatch/dispatch-step.ts";
import { planOf } from "../dispatch/plan.ts";
import { type JobRecord, PREPARING_STATUSES, type ProgressSample, RUNNING_STATUSES } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { jobGet, jobUpdate } from "../jobs/store.ts";
import { jobMarkCompleting, jobMarkFailing } from "../jobs/transitions.ts";
import { mergeStep } from "../merge/merge-step.ts";
import { notifyStep } from "../notify/notify.ts";
import type { PollMessage } from "../steps/messages.ts";
import { pendingClear } from "../steps/priority.ts";
import { leaseMsOf, reconcileStep } from "../steps/step.ts";
import type { Stored } from "../store/json-store.ts";
import { chainStep } from "./poll-chain.ts";

/** AWS's threshold: after this many tasks, a failure rate over FAILURE_RATE fails the job. */
export const FAILURE_MIN_TASKS = 1000;
export const FAILURE_RATE = 0.5;

/** Re-drives per tick at most: a crash leaves a handful; a thousand would be a storm. */
const MAX_RECOVERIES = 200;

type Deps = Pick<Context, "store" | "queue" | "settings" | "log">;

export async function pollJob(ctx: Context, msg: PollMessage): Promise<void> {
  const job = await jobGet(ctx.store, msg);
  if (!job) return;
  // Notifications first: the events of the job's history that wait for their target.
  const waiting = await notifyStep(ctx, job.value).catch((err) => {
    // Never the job's problem: the next poll tries again.
    ctx.log.warn("notifications not sent", { jobId: msg.jobId, message: (err as Error).message });
    return true;
  });
  await chainStep(ctx, msg, job.value.status, waiting);
  const status = job.value.status;
  if (PREPARING_STATUSES.includes(status)) await reconcileDispatch(ctx, job);
  else if (RUNNING_STATUSES.includes(status)) await reconcileChildren(ctx, job.value);
  else if (status === "Completing") await reconcileMerge(ctx, job.value);
}

/** A job being prepared: its dispatch runs, or is sent again, or (exhausted) fails the job. */
async function reconcileDispatch(ctx: Deps, job: Stored<JobRecord>): Promise<void> {
  const verdict = await reconcileStep(ctx, dispatchStep, job.value, { missingAgeMs: job.ageMs });
  if (verdict === "redrive")
    ctx.log.info("dispatch re-driven", { jobId: job.value.jobId, status: job.value.status });
}

async function reconcileChildren(ctx: Deps, job: JobRecord): Promise<void> {
  const { store } = ctx;
  const ref: JobRef = job;
  const plan = await planOf(store, ref);
  if (!plan) return;
  const progress = await listProgress(store, ref);
  const statesPrefix = paths.children(ref);
  let started = 0;
  let recoveries = 0;
  for await (const { key, ageMs } of store.listEntries(statesPrefix)) {
    const m = /^([a-z0-9-]+)\/(\d{8})\.json$/.exec(key.slice(statesPrefix.length));
    if (!m) continue;
    started++;
    const p = progress.get(childKey(m[1] ?? "", Number(m[2])));
    if (childSettled(p) || ageMs < leaseMsOf(ctx) || recoveries >= MAX_RECOVERIES) continue;
    recoveries++;
    await reconcileStep(ctx, childStep, {
      ...ref,
      endpointId: m[1] ?? "",
      shard: Number(m[2]),
      priority: job.priority,
    });
  }

  let succeeded = 0;
  let failed = 0;
  let settled = 0;
  const byEndpoint: Record<string, number> = {};
  for (const p of progress.values()) {
    succeeded += p.succeeded;
    failed += p.failed + p.missing;
    byEndpoint[p.endpointId] = (byEndpoint[p.endpointId] ?? 0) + p.done;
    if (childSettled(p)) settled++;
  }
  const total = plan.totalRows;
  const counts = {
    total,
    succeeded: Math.min(succeeded, total),
    failed: Math.min(failed, total - Math.min(succeeded, total)),
  };
  // Every child has started (or the job stopped running): it no longer holds back lower priorities.
  if (started >= plan.childCount || job.status !== "Active") await pendingClear(ctx, ref, job.priority);
  // Some children have not started: make sure every child message was sent.
  if (started < plan.childCount && job.status === "Active") await reconcileStart(ctx, job);

  let status = job.status;
  if (status === "Active" && failureThresholdExceeded(counts.succeeded, counts.failed)) {
    const rate = Math.round((100 * counts.failed) / (counts.succeeded + counts.failed));
    status = (
      await jobMarkFailing(store, ref, {
        progress: counts,
        failureReasons: [
          {
            FailureCode: "FailureThresholdExceeded",
            FailureReason: `${rate}% of the first ${counts.succeeded + counts.failed} tasks failed`,
          },
        ],
      })
    ).status;
  } else {
    await jobUpdate(store, ref, (j) => {
      const same =
        j.progress.succeeded === counts.succeeded &&
        j.progress.failed === counts.failed &&
        j.progress.total === total;
      const last = j.samples?.at(-1);
      // A sample at least every 10 s while the job runs, so a stall shows as a falling rate.
      if (same && (j.status !== "Active" || (last && Date.now() - Date.parse(last.at) < 10_000)))
        return undefined;
      return {
        ...j,
        progress: counts,
        ...(j.status === "Active" ? { samples: withSample(j.samples, counts, byEndpoint) } : {}),
      };
    });
  }
  if (settled < plan.childCount) return;
  if (status === "Active") status = (await jobMarkCompleting(store, ref)).status;
  await reconcileMerge(ctx, { ...job, status });
}

/** An Active job whose dispatch died while sending the child messages: dispatch again. */
async function reconcileStart(ctx: Deps, job: JobRecord): Promise<void> {
  if ((await reconcileStep(ctx, dispatchStep, job)) === "redrive")
    ctx.log.info("start re-driven", { jobId: job.jobId });
}

/** A closing job: the merge runs, is sent (again), finishes what it committed, or fails the job. */
async function reconcileMerge(ctx: Deps, job: JobRecord): Promise<void> {
  await reconcileStep(ctx, mergeStep, job);
}

/** Keeps the last 90 s of progress samples (at most 60), plus the one taken now. */
function withSample(
  samples: ProgressSample[] | undefined,
  counts: { succeeded: number; failed: number },
  byEndpoint: Record<string, number>,
): ProgressSample[] {
  const now = Date.now();
  const kept = (samples ?? []).filter((s) => now - Date.parse(s.at) <= 90_000);
  return [
    ...kept,
    { at: new Date(now).toISOString(), done: counts.succeeded + counts.failed, byEndpoint },
  ].slice(-60);
}

export function failureThresholdExceeded(succeeded: number, failed: number): boolean {
  const ran = succeeded + failed;
  return ran >= FAILURE_MIN_TASKS && failed / ran > FAILURE_RATE;
}
