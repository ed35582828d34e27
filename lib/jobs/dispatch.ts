// Dispatch: prepares a new job (reads the manifest once into a plan), then either parks it in
// Suspended (ConfirmationRequired) or starts it. A redelivered message finds the plan written
// and the status moved, and only re-sends what starting sends, which children tolerate.
import type { Context } from "../context.ts";
import { ConflictError, UnrecoverableError } from "../errors.ts";
import type { DispatchMessage } from "../queue/messages.ts";
import type { JobRecord } from "./model.ts";
import { type JobRef, paths } from "./paths.ts";
import { buildPlan, type Plan } from "./plan.ts";
import { pendingMark } from "./priority.ts";
import { jobGet } from "./store.ts";
import {
  JobStatusError,
  jobMarkActive,
  jobMarkFailed,
  jobMarkPreparing,
  jobMarkReady,
  jobMarkSuspended,
} from "./transitions.ts";

export async function dispatchJob(ctx: Context, msg: DispatchMessage): Promise<void> {
  try {
    await prepare(ctx, msg);
  } catch (err) {
    // Cancelled (or otherwise moved) while being prepared: nothing is left to do.
    if (!(err instanceof JobStatusError)) throw err;
    ctx.log.info("dispatch found the job moved on", { jobId: msg.jobId, message: err.message });
  }
}

async function prepare(ctx: Context, msg: DispatchMessage): Promise<void> {
  const { store } = ctx;
  const found = await jobGet(store, msg);
  if (!found) {
    ctx.log.warn("dispatch for an unknown job", { jobId: msg.jobId });
    return;
  }
  let job = found.value;
  if (job.status === "New") job = await jobMarkPreparing(store, msg);
  if (job.status === "Preparing") {
    let plan: Plan;
    try {
      plan = await planOnce(ctx, job);
    } catch (err) {
      if (!(err instanceof UnrecoverableError)) throw err;
      await jobMarkFailed(store, msg, {
        failureReasons: [{ FailureCode: err.code, FailureReason: err.message.slice(0, 256) }],
      });
      return;
    }
    const patch = {
      progress: { total: plan.totalRows, succeeded: 0, failed: 0 },
      ...(plan.generatedManifest ? { generatedManifest: plan.generatedManifest } : {}),
    };
    job = job.request.ConfirmationRequired
      ? await jobMarkSuspended(store, msg, patch)
      : await jobMarkReady(store, msg, patch);
  }
  if (job.status === "Ready" || job.status === "Active") await startJob(ctx, msg, job.priority);
}

/** Marks the job Active and sends one child message per shard × endpoint, then the poll chain. */
export async function startJob(
  ctx: Pick<Context, "store" | "queue" | "settings">,
  ref: JobRef,
  priority: number,
): Promise<void> {
  await jobMarkActive(ctx.store, ref);
  await pendingMark(ctx, ref, priority);
  const plan = (await ctx.store.get<Plan>(paths.plan(ref)))?.value;
  if (!plan) throw new Error(`job ${ref.jobId} is Active without a plan`);
  const base = { v: 1 as const, accountId: ref.accountId, jobId: ref.jobId };
  await ctx.queue.sendAll(
    plan.shards.flatMap((s) =>
      s.endpoints.map((endpointId) => ({
        ...base,
        type: "child" as const,
        shard: s.index,
        endpointId,
        priority,
      })),
    ),
  );
  await ctx.queue.send(
    { ...base, type: "poll", chain: true },
    plan.shards.length === 0 ? 0 : ctx.settings.pollDelaySeconds,
  );
}

/** The plan is written once; a second dispatch reads the first one's. */
async function planOnce(ctx: Context, job: JobRecord): Promise<Plan> {
  const key = paths.plan(job);
  const existing = await ctx.store.get<Plan>(key);
  if (existing) return existing.value;
  const plan = await buildPlan(ctx, job);
  try {
    await ctx.store.create(key, plan);
    return plan;
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const winner = await ctx.store.get<Plan>(key);
    if (!winner) throw err;
    return winner.value;
  }
}
