// Dispatch: prepares a new job (reads the manifest once into a plan), then either parks it in
// Suspended (ConfirmationRequired) or starts it. Planning holds the dispatch lease
// (dispatch.json, see leases/lease.ts); when the invocation's budget runs out mid-manifest it
// saves the scan there and hands over to a fresh dispatch message. A redelivered message finds
// the plan written and the status moved, and only re-sends what starting sends, which children
// tolerate.
import type { Budget } from "../budget.ts";
import type { Context } from "../context.ts";
import { UnrecoverableError } from "../errors.ts";
import type { JobRecord } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import {
  JobStatusError,
  jobMarkActive,
  jobMarkFailed,
  jobMarkPreparing,
  jobMarkReady,
  jobMarkSuspended,
} from "../jobs/transitions.ts";
import { type LeaseFields, leaseAcquire, newAttempt } from "../leases/lease.ts";
import type { DispatchMessage } from "../steps/messages.ts";
import { pendingMark } from "../steps/priority.ts";
import { buildPlan, type Plan, type PlanScan, type ShardList, type SourceScan } from "./plan.ts";

/** dispatch.json: the dispatch lease, the scan of a handed-over planning, and what is done. */
export interface DispatchState extends LeaseFields {
  scan?: PlanScan;
  /** An inventory being normalized or a listing being generated, handed over mid-way. */
  source?: SourceScan;
  /** The plan is written. */
  planned?: boolean;
  /** Every child message of the started job was sent. */
  started?: boolean;
}

export const initialDispatchState = (): DispatchState => ({ attempts: 0, stalled: 0 });

export async function dispatchJob(ctx: Context, msg: DispatchMessage, budget: Budget): Promise<void> {
  try {
    await prepare(ctx, msg, budget);
  } catch (err) {
    // Cancelled (or otherwise moved) while being prepared: nothing is left to do.
    if (!(err instanceof JobStatusError)) throw err;
    ctx.log.info("dispatch found the job moved on", { jobId: msg.jobId, message: err.message });
  }
}

async function prepare(ctx: Context, msg: DispatchMessage, budget: Budget): Promise<void> {
  const { store } = ctx;
  const found = await jobGet(store, msg);
  if (!found)
    throw new UnrecoverableError("NoSuchJob", `dispatch for job ${msg.jobId}, which does not exist`);
  let job = found.value;
  if (job.status === "New") job = await jobMarkPreparing(store, msg);
  if (job.status === "Preparing") {
    const planned = await planJob(ctx, job, budget);
    if (!planned) return;
    const patch = {
      progress: { total: planned.totalRows, succeeded: 0, failed: 0 },
      ...(planned.generatedManifest ? { generatedManifest: planned.generatedManifest } : {}),
    };
    job = job.request.ConfirmationRequired
      ? await jobMarkSuspended(store, msg, patch)
      : await jobMarkReady(store, msg, patch);
  }
  if (job.status === "Ready" || job.status === "Active") await startJob(ctx, msg, job.priority);
}

/**
 * Writes the plan once under the dispatch lease. Returns undefined when this delivery has nothing
 * more to do: another one holds the lease, planning handed over, or the job failed.
 */
async function planJob(ctx: Context, job: JobRecord, budget: Budget): Promise<Plan | undefined> {
  const { store } = ctx;
  const existing = await store.get<Plan>(paths.plan(job));
  if (existing) return existing.value;
  const acquired = await leaseAcquire<DispatchState>(store, paths.dispatchState(job), newAttempt(), {
    initial: initialDispatchState,
    finished: (s) => s.planned === true,
    leaseMs: ctx.settings.leaseSeconds * 1000,
    log: ctx.log,
  });
  if (acquired?.kind === "finished") return (await store.get<Plan>(paths.plan(job)))?.value;
  if (acquired?.kind !== "held") return undefined;
  const { lease } = acquired;
  lease.beat();
  try {
    let outcome: Awaited<ReturnType<typeof buildPlan>>;
    try {
      outcome = await buildPlan(
        ctx,
        job,
        AbortSignal.any([budget.signal, lease.lost]),
        lease.value.scan,
        lease.value.source,
      );
    } catch (err) {
      if (!(err instanceof UnrecoverableError)) throw err;
      await jobMarkFailed(store, job, {
        failureReasons: [{ FailureCode: err.code, FailureReason: err.message.slice(0, 256) }],
      });
      await lease.release((s) => ({ ...s, planned: true }));
      return undefined;
    }
    if ("sourceHandover" in outcome) {
      const source = outcome.sourceHandover;
      await lease.release((s) => ({ ...s, source, stalled: 0 }));
      ctx.log.info("dispatch handed over", {
        jobId: job.jobId,
        generated: source.generator?.rows,
        inventoryFile: source.inventory?.nextFile,
      });
      await ctx.queue.send({ v: 1, type: "dispatch", accountId: job.accountId, jobId: job.jobId });
      return undefined;
    }
    if ("handover" in outcome) {
      const scan = outcome.handover;
      await lease.release((s) => ({ ...s, scan, stalled: 0 }));
      ctx.log.info("dispatch handed over", { jobId: job.jobId, rows: scan.nextRow, byte: scan.nextByte });
      await ctx.queue.send({ v: 1, type: "dispatch", accountId: job.accountId, jobId: job.jobId });
      return undefined;
    }
    // The shard list first: plan.json existing means the plan is whole.
    await store.putBytes(paths.shards(job), JSON.stringify(outcome.shards), "application/json");
    const plan = (await store.createOrGet(paths.plan(job), outcome.plan)).value;
    await lease.release((s) => {
      const { scan: _done, source: _written, ...rest } = s;
      return { ...rest, planned: true };
    });
    return plan;
  } finally {
    lease.stop();
  }
}

/** Marks the job Active and sends one child message per shard × endpoint, then the poll chain. */
export async function startJob(
  ctx: Pick<Context, "store" | "queue" | "settings">,
  ref: JobRef,
  priority: number,
): Promise<void> {
  await jobMarkActive(ctx.store, ref);
  await pendingMark(ctx, ref, priority);
  const shards = (await ctx.store.get<ShardList>(paths.shards(ref)))?.value.shards;
  if (!shards) throw new UnrecoverableError("InternalError", `job ${ref.jobId} is Active without a plan`);
  const base = { v: 1 as const, accountId: ref.accountId, jobId: ref.jobId };
  await ctx.queue.sendAll(
    shards.flatMap((s) =>
      s.endpoints.map((endpointId) => ({
        ...base,
        type: "child" as const,
        shard: s.index,
        endpointId,
        priority,
        span: { firstRow: s.firstRow, rowCount: s.rowCount, startByte: s.startByte, endByte: s.endByte },
      })),
    ),
  );
  await dispatchStateUpdate(ctx, ref, (s) => (s.started ? undefined : { ...s, started: true }));
  await ctx.queue.send({ ...base, type: "poll", chain: true, token: newAttempt() });
}

/** One conditional change of dispatch.json (creating it if needed), retried on a lost race. */
export async function dispatchStateUpdate(
  ctx: Pick<Context, "store">,
  ref: JobRef,
  change: (s: DispatchState) => DispatchState | undefined,
): Promise<void> {
  await ctx.store.update(paths.dispatchState(ref), change, { initial: initialDispatchState });
}
