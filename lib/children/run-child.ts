// Runs one child: the job's operation on its shard's rows against one endpoint, with bounded
// concurrency over the endpoint's pooled client. The pieces have homes of their own:
//   resume.ts       take the lease, step aside for priority, resume from the last checkpoint
//   placement.ts    which rows are this endpoint's to run
//   task-runner.ts  one task under the retry policy, riding out endpoint outages
//   checkpoint.ts   outputs, the state commit and the progress marker
// Every `checkpointSeconds`, or sooner once `checkpointBytes` of results or `checkpointRows` rows
// wait, the child checkpoints and checks that the job is still Active.
// When its time budget runs out it checkpoints, releases the lease and sends its own message
// again, so no shard has to finish within one invocation.
import type { Budget } from "../budget.ts";
import type { Context } from "../context.ts";
import { type Plan, planOf } from "../dispatch/plan.ts";
import { ConflictError, UnrecoverableError } from "../errors.ts";
import type { JobRecord } from "../jobs/model.ts";
import type { ChildRef } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import type { Lease } from "../leases/lease.ts";
import { manifestRows } from "../manifest/read-rows.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { operationFor } from "../operations/index.ts";
import { IntentJournal } from "../operations/intents.ts";
import { taskNeeds } from "../operations/needs.ts";
import { HandOverError, type TaskContext, type TaskOutcome } from "../operations/types.ts";
import { abortRegisteredUploads } from "../operations/uploads.ts";
import { verifierFor, wantsVerification } from "../operations/verify.ts";
import type { ChildMessage } from "../steps/messages.ts";
import { mapOrdered } from "../util/map-ordered.ts";
import { CheckpointWriter } from "./checkpoint.ts";
import { childStepRef } from "./child-step.ts";
import { placementOf, soleHolder } from "./placement.ts";
import { childTakeOver } from "./resume.ts";
import { type ChildState, shardEnd } from "./state.ts";
import { probeBucket, runTask } from "./task-runner.ts";

const MISSING: TaskOutcome = { kind: "missing" };

/** Runs (or resumes) the child named by `msg`; a settled child is left as it is. */
export async function runChild(ctx: Context, msg: ChildMessage, budget: Budget): Promise<void> {
  const ref = childStepRef(msg);
  const job = (await jobGet(ctx.store, ref))?.value;
  const plan = await planOf(ctx.store, ref);
  if (!job || !plan)
    throw new UnrecoverableError("NoSuchJob", `a child of job ${ref.jobId}, which has no plan`);
  const taken = await childTakeOver(ctx, msg, job);
  if (taken.kind !== "held") return;
  const { lease } = taken;
  lease.beat();
  const writer = new CheckpointWriter(ctx, ref, lease, taken.resumed);
  const started = Date.now();
  let result: "settled" | "handed over" | "lost" = "lost";
  try {
    result =
      job.status === "Active"
        ? await runShard(ctx, ref, job, plan, lease, writer, budget)
        : await settleStopped(ctx, ref, writer, lease);
  } catch (err) {
    // A write found the lease taken over: that attempt carries on, this one stops quietly.
    if (!(err instanceof ConflictError && lease.lost.aborted)) throw err;
  } finally {
    lease.stop();
    writer.dispose();
  }
  const s = lease.value;
  ctx.log.info("child attempt ended", {
    jobId: ref.jobId,
    endpoint: ref.endpointId,
    shard: ref.shard,
    attempt: lease.attempt,
    result,
    status: s.status,
    nextRow: s.nextRow,
    found: s.found,
    succeeded: s.succeeded,
    failed: s.failed,
    ms: Date.now() - started,
  });
  if (result === "handed over") await ctx.queue.send(msg);
  if (result === "settled")
    await ctx.queue.send({ v: 1, type: "poll", accountId: ref.accountId, jobId: ref.jobId, chain: false });
}

async function settle(
  writer: CheckpointWriter,
  lease: Lease<ChildState>,
  status: "stopped" | "done",
  at = lease.value.nextRow,
) {
  await writer.commit(status, status === "done" ? shardEnd(lease.value) : at, { release: true });
  return "settled" as const;
}

async function runShard(
  ctx: Context,
  ref: ChildRef,
  job: JobRecord,
  plan: Plan,
  lease: Lease<ChildState>,
  writer: CheckpointWriter,
  budget: Budget,
): Promise<"settled" | "handed over" | "lost"> {
  const state = lease.value;
  const gw = ctx.gateways.get(ref.endpointId);
  gw.availability.resume(state.downSince);
  const op = operationFor(job.request.Operation);
  const end = shardEnd(state);
  const stop = AbortSignal.any([lease.lost, budget.signal]);
  const runsHere = placementOf(op, plan.routing, ref.endpointId, ctx.gateways);
  // Every task is asked of the job's role before any gateway is (what it asks, and how a refusal
  // reads, the operation may say: Operation.prepare).
  const role = ctx.auth.forJob(job);
  const prep = op.prepare
    ? await op.prepare(ctx, job, ref.endpointId)
    : { needsOf: job.request.Operation, refused: undefined, capabilities: undefined };
  const needs = taskNeeds(prep.needsOf);
  const refusal = (row: TaskRow): TaskOutcome | undefined => {
    const denial = role.check(...needs(row));
    if (!denial) return undefined;
    // A task that runs once is refused once, by the first endpoint holding its bucket.
    if (op.placement === "first" && plan.routing[row.bucket]?.[0] !== ref.endpointId) return MISSING;
    return prep.refused
      ? prep.refused(denial.message)
      : { kind: "failed", http: 403, code: "AccessDenied", message: denial.message, cause: "final" };
  };
  const intents = await IntentJournal.open(ctx.store, ref, lease.attempt);
  const task: TaskContext = {
    endpointId: ref.endpointId,
    s3: gw.s3,
    gateways: ctx.gateways,
    routing: plan.routing,
    settings: ctx.settings,
    job: { accountId: ref.accountId, jobId: ref.jobId },
    signal: stop,
    intents,
    now: () => ctx.store.serverNow(),
    ...(prep.capabilities ? { capabilities: prep.capabilities } : {}),
  };
  // A job that asks for verification reads every effect back (operations/verify.ts).
  const verify = wantsVerification(job) ? verifierFor(job.request.Operation) : undefined;
  // A task stopped part-way (a long copy's budget ran out) has no outcome yet: the next attempt
  // resumes it from what it recorded in the journal.
  const attempt = async (row: TaskRow): Promise<TaskOutcome | undefined> => {
    try {
      const outcome = await op.run(task, row);
      return verify ? await verify(task, row, outcome) : outcome;
    } catch (err) {
      if (err instanceof HandOverError) return undefined;
      throw err;
    }
  };
  const span = {
    firstRow: state.nextRow,
    startByte: state.nextByte ?? state.span.startByte,
    endByte: state.span.endByte,
  };
  // The job left Active (a cancel): no new task starts, and those already running are drained
  // into the results, so every task that ran is in the report.
  const halt = new AbortController();
  async function* rows() {
    for await (const entry of manifestRows(ctx, plan.manifest, job.request.Manifest, span)) {
      if (stop.aborted || halt.signal.aborted) return;
      yield entry;
    }
  }
  // Every row is looked up by the job itself: a survey informs, it never decides a row's outcome
  // (an object written after the survey is acted on).
  const run = async (entry: { row: TaskRow; end: number }) => {
    const held = plan.routing[entry.row.bucket]?.includes(ref.endpointId) ?? false;
    const refused = held ? refusal(entry.row) : undefined;
    if (refused) return { entry, outcome: refused };
    const outcome = (await runsHere(entry.row))
      ? await runTask(
          gw,
          stop,
          () => attempt(entry.row),
          () => probeBucket(gw, entry.row.bucket),
        )
      : MISSING;
    return { entry, outcome };
  };
  const checkpoint = async (status: "running", release = false) => {
    await writer.commit(status, next.row, {
      release,
      patch: { nextByte: next.byte, downSince: gw.availability.since },
      // A task that recorded progress of its own (a long copy's parts) is progress too.
      progressed: intents.recordedThisAttempt > 0,
    });
    await intents.prune(next.row);
  };

  let next = { row: state.nextRow, byte: span.startByte };
  let since = 0;
  let lastCheckpoint = Date.now();
  const due = () =>
    ++since >= ctx.settings.checkpointRows ||
    writer.pendingBytes >= ctx.settings.checkpointBytes ||
    Date.now() - lastCheckpoint >= ctx.settings.checkpointSeconds * 1000;
  for await (const { entry, outcome } of mapOrdered(rows(), gw.endpoint.maxConcurrency, run)) {
    if (!outcome) break; // stopped before it had an outcome: it runs in the next attempt
    writer.add(entry.row, outcome, soleHolder(plan.routing, ref.endpointId, entry.row.bucket));
    next = { row: entry.row.index + 1, byte: entry.end };
    if (due() && next.row < end && !stop.aborted && !halt.signal.aborted) {
      since = 0;
      lastCheckpoint = Date.now();
      await checkpoint("running");
      if ((await jobGet(ctx.store, ref))?.value.status !== "Active") halt.abort();
    }
  }
  if (lease.lost.aborted) return "lost";
  if (halt.signal.aborted && next.row < end) return settleStopped(ctx, ref, writer, lease, next.row);
  if (next.row >= end) return settle(writer, lease, "done");
  await checkpoint("running", true);
  return "handed over";
}

/** A child that stops for good leaves no upload open: those its tasks registered are aborted. */
async function settleStopped(
  ctx: Context,
  ref: ChildRef,
  writer: CheckpointWriter,
  lease: Lease<ChildState>,
  at = lease.value.nextRow,
) {
  await abortRegisteredUploads(ctx.gateways, await IntentJournal.open(ctx.store, ref, lease.attempt));
  return settle(writer, lease, "stopped", at);
}
