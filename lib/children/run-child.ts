// Runs one child: the job's operation on its shard's rows against one endpoint, with bounded
// concurrency over the endpoint's pooled client. Every `checkpointRows` rows it writes its output
// (valid bitmap + outcome lines, one object) and its state (one conditional write), and checks
// whether the job is still Active; a redelivered message resumes from the last checkpoint. A
// settled child leaves a marker whose name carries its final state.

import {
  bitmapsReady,
  deserializeBitmap,
  newBitmap,
  serializeBitmap,
  withBitmap,
} from "../bitmap/valid-bitmap.ts";
import type { Context } from "../context.ts";
import { ConflictError } from "../errors.ts";
import { paths } from "../jobs/paths.ts";
import type { Plan } from "../jobs/plan.ts";
import { requeueChild, shouldStepAside } from "../jobs/priority.ts";
import { jobGet } from "../jobs/store.ts";
import { manifestRows } from "../manifest/read-rows.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { operationFor } from "../operations/index.ts";
import { objectExists, type TaskContext, type TaskOutcome } from "../operations/types.ts";
import type { ChildMessage } from "../queue/messages.ts";
import { mapOrdered } from "../util/map-ordered.ts";
import { encodeChildOutput, outcomeLine, readChildOutput } from "./output.ts";
import { type ChildRef, type ChildState, childSettled, markSettled } from "./state.ts";

/** Runs (or resumes) the child named by `msg`; a settled child is left as it is. */
export async function runChild(ctx: Context, msg: ChildMessage): Promise<void> {
  const { store } = ctx;
  const ref: ChildRef = {
    accountId: msg.accountId,
    jobId: msg.jobId,
    endpointId: msg.endpointId,
    shard: msg.shard,
  };
  const job = await jobGet(store, ref);
  const plan = await store.get<Plan>(paths.plan(ref));
  const shard = plan?.value.shards[msg.shard];
  if (!job || !plan || !shard?.endpoints.includes(msg.endpointId)) {
    ctx.log.warn("child for an unknown job or shard", {
      jobId: msg.jobId,
      shard: msg.shard,
      endpoint: msg.endpointId,
    });
    return;
  }
  const stateKey = paths.childState(ref, ref.endpointId, ref.shard);
  let current = await store.get<ChildState>(stateKey);
  if (current && childSettled(current.value)) {
    await markSettled(store, ref, current.value); // a delivery that died before its marker
    return;
  }
  if (!current) {
    if (await shouldStepAside(ctx, msg, job.value.priority)) {
      await requeueChild(ctx, msg);
      return;
    }
    const initial: ChildState = {
      schema: 1,
      jobId: ref.jobId,
      endpointId: ref.endpointId,
      shard: ref.shard,
      status: "running",
      nextRow: shard.firstRow,
      succeeded: 0,
      failed: 0,
      found: 0,
      missing: 0,
      startedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    };
    try {
      await store.create(stateKey, initial);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
    current = await store.get<ChildState>(stateKey);
    if (!current) return;
    if (childSettled(current.value)) {
      await markSettled(store, ref, current.value);
      return;
    }
  }
  let state = current.value;
  let etag = current.etag;

  await bitmapsReady();
  const previous = state.attempt;
  const attempt = crypto.randomUUID().slice(0, 8);
  const stream = previous
    ? await store.getStream(paths.childOutput(ref, ref.endpointId, ref.shard, previous))
    : undefined;
  const resumed = stream ? await readChildOutput(stream) : undefined;
  let outcomes = resumed?.outcomes ?? "";
  const bitmap = resumed ? deserializeBitmap(resumed.bitmap) : newBitmap();
  let stale = previous;

  await withBitmap(bitmap, async (valid) => {
    const checkpoint = async (status: ChildState["status"], nextRow: number, counts: Counts) => {
      const { endpointId, shard: n } = ref;
      await store.putBytes(
        paths.childOutput(ref, endpointId, n, attempt),
        encodeChildOutput(serializeBitmap(valid), outcomes),
      );
      const next: ChildState = {
        ...state,
        ...counts,
        status,
        nextRow,
        attempt,
        updatedAt: new Date().toISOString(),
      };
      // Conflict: another delivery of this message moved the checkpoint; it carries on, we stop.
      etag = await store.replace(stateKey, next, etag);
      state = next;
      await markSettled(store, ref, next);
      if (stale) {
        // The state now names this attempt: the one it resumed from is garbage.
        const old = stale;
        stale = undefined;
        await store.delete(paths.childOutput(ref, endpointId, n, old)).catch(() => {});
      }
    };

    if (job.value.status !== "Active") {
      await checkpoint("stopped", state.nextRow, state);
      return;
    }

    const gw = ctx.gateways.get(ref.endpointId);
    const op = operationFor(job.value.request.Operation);
    const shardEnd = shard.firstRow + shard.rowCount;
    const counts: Counts = {
      succeeded: state.succeeded,
      failed: state.failed,
      found: state.found,
      missing: state.missing ?? 0,
    };
    const routing = plan.value.routing;
    const soleHolder = (bucket: string) =>
      routing[bucket]?.length === 1 && routing[bucket][0] === ref.endpointId;
    const rows = async function* () {
      for await (const { row } of manifestRows(ctx, plan.value.manifest, job.value.request.Manifest, shard)) {
        if (row.index >= state.nextRow) yield row;
      }
    };
    const task: TaskContext = {
      endpointId: ref.endpointId,
      s3: gw.s3,
      gateways: ctx.gateways,
      routing,
      settings: ctx.settings,
      job: { accountId: ref.accountId, jobId: ref.jobId },
    };
    const run = async (row: TaskRow): Promise<[TaskRow, TaskOutcome]> => {
      const holders = routing[row.bucket] ?? [];
      if (!holders.includes(ref.endpointId)) return [row, { kind: "missing" }];
      // "first": the task belongs to the first endpoint (configured order) holding the object.
      if (op.placement === "first")
        for (const id of holders.slice(0, holders.indexOf(ref.endpointId)))
          if (await holdsObject(ctx, id, row)) return [row, { kind: "missing" }];
      return [row, await gw.limit(() => op.run(task, row))];
    };
    let sinceCheckpoint = 0;
    for await (const [row, outcome] of mapOrdered(rows(), gw.endpoint.maxConcurrency, run)) {
      if (outcome.kind !== "missing") {
        valid.add(row.index);
        counts.found++;
        counts[outcome.kind]++;
        outcomes += outcomeLine(row.index, outcome);
      } else if (soleHolder(row.bucket)) {
        // Its bucket lives only here, so the task has certainly failed (404): progress counts it now.
        counts.missing++;
      }
      if (++sinceCheckpoint >= ctx.settings.checkpointRows && row.index + 1 < shardEnd) {
        sinceCheckpoint = 0;
        await checkpoint("running", row.index + 1, counts);
        const now = await jobGet(store, ref);
        if (now?.value.status !== "Active") {
          await checkpoint("stopped", row.index + 1, counts);
          return;
        }
      }
    }
    await checkpoint("done", shardEnd, counts);
  });
  await ctx.queue.send({ v: 1, type: "poll", accountId: ref.accountId, jobId: ref.jobId, chain: false });
}

interface Counts {
  succeeded: number;
  failed: number;
  found: number;
  missing: number;
}

/**
 * Whether endpoint `id` holds the row's object. Only a 404 says no: any other answer leaves the
 * task to that endpoint, whose own child reports what happens there.
 */
function holdsObject(ctx: Context, id: string, row: TaskRow): Promise<boolean> {
  const gw = ctx.gateways.get(id);
  return gw.limit(() => objectExists(gw.s3, row));
}
