// Poll: reconciles a running job with its children. Sums their checkpoints into the job's
// progress, applies the failure threshold, and once every child has settled moves the job on
// and enqueues the merge. Safe to run any number of times.
import { type ChildState, listSettled } from "../children/state.ts";
import type { Context } from "../context.ts";
import type { PollMessage } from "../queue/messages.ts";
import type { JobRecord } from "./model.ts";
import { paths } from "./paths.ts";
import type { Plan } from "./plan.ts";
import { pendingClear } from "./priority.ts";
import { jobGet, jobUpdate } from "./store.ts";
import { jobMarkCompleting, jobMarkFailing } from "./transitions.ts";

/** AWS's threshold: after this many tasks, a failure rate over FAILURE_RATE fails the job. */
export const FAILURE_MIN_TASKS = 1000;
export const FAILURE_RATE = 0.5;

const RUNNING: JobRecord["status"][] = ["Active", "Cancelling", "Failing"];

export async function pollJob(ctx: Context, msg: PollMessage): Promise<void> {
  const { store } = ctx;
  const job = await jobGet(store, msg);
  if (!job || !RUNNING.includes(job.value.status)) return;
  const plan = await store.get<Plan>(paths.plan(msg));
  if (!plan) return;

  // Settled children from one listing of their markers; only the others' states are read.
  const settled = await listSettled(store, msg);
  const unsettled = plan.value.shards.flatMap((s) =>
    s.endpoints.filter((e) => !settled.has(`${e}/${s.index}`)).map((e) => paths.childState(msg, e, s.index)),
  );
  const running = await Promise.all(unsettled.map(async (key) => (await store.get<ChildState>(key))?.value));
  const states = [...settled.values(), ...running];
  const succeeded = sum(states, (s) => s.succeeded);
  const failed = sum(states, (s) => s.failed + s.missing);
  const total = plan.value.totalRows;
  const progress = {
    total,
    succeeded: Math.min(succeeded, total),
    failed: Math.min(failed, total - Math.min(succeeded, total)),
  };
  const allSettled = unsettled.length === 0;
  // Every child has started (or the job stopped running): it no longer holds back lower priorities.
  if (running.every(Boolean) || job.value.status !== "Active")
    await pendingClear(ctx, msg, job.value.priority);

  let status = job.value.status;
  if (status === "Active" && failureThresholdExceeded(progress.succeeded, progress.failed)) {
    const rate = Math.round((100 * progress.failed) / (progress.succeeded + progress.failed));
    status = (
      await jobMarkFailing(store, msg, {
        progress,
        failureReasons: [
          {
            FailureCode: "FailureThresholdExceeded",
            FailureReason: `${rate}% of the first ${progress.succeeded + progress.failed} tasks failed`,
          },
        ],
      })
    ).status;
  } else {
    await jobUpdate(store, msg, (j) =>
      j.progress.succeeded === progress.succeeded &&
      j.progress.failed === progress.failed &&
      j.progress.total === total
        ? undefined
        : { ...j, progress },
    );
  }

  if (allSettled) {
    if (status === "Active") await jobMarkCompleting(store, msg);
    await ctx.queue.send({ v: 1, type: "merge", accountId: msg.accountId, jobId: msg.jobId });
    return;
  }
  if (msg.chain) await ctx.queue.send(msg, ctx.settings.pollDelaySeconds);
}

export function failureThresholdExceeded(succeeded: number, failed: number): boolean {
  const ran = succeeded + failed;
  return ran >= FAILURE_MIN_TASKS && failed / ran > FAILURE_RATE;
}

type Counts = Pick<ChildState, "succeeded" | "failed" | "missing">;

function sum(states: (Counts | undefined)[], f: (s: Counts) => number): number {
  return states.reduce((n, s) => n + (s ? f(s) : 0), 0);
}
