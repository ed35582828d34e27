// Merge: streams the manifest once; for each shard, ORs the children's valid bitmaps (which
// endpoints found each object) and k-way merges their outcome lines, writing exactly one report
// row per manifest row, in manifest order, to every endpoint that holds the report bucket. Then
// manifest.json, then the job's final status. It holds the merge lease (merge-state.ts); at a
// shard boundary past its budget it saves its writers and hands over to a fresh invocation.
// Memory: one shard's bitmaps (as flags), one chunk per open output and the writers' bounded
// part queues.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { AccessDeniedError } from "../auth/authorize.ts";
import {
  bitmapsReady,
  deserializeBitmap,
  newBitmap,
  type RoaringBitmap32,
  withBitmap,
} from "../bitmap/valid-bitmap.ts";
import type { Budget } from "../budget.ts";
import { type OutcomeEntry, openChildOutput } from "../children/output.ts";
import { type ChildProgress, childKey, listProgress } from "../children/progress.ts";
import type { ChildState } from "../children/state.ts";
import type { Context } from "../context.ts";
import { type Plan, planOf, reportAllowed, type Shard, type ShardList } from "../dispatch/plan.ts";
import {
  AllTargetsFailedError,
  FanoutWriter,
  failureOf,
  type WriteTarget,
} from "../endpoints/fanout-writer.ts";
import { RetryableError } from "../errors.ts";
import type { JobRecord } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import { jobMarkFailed } from "../jobs/transitions.ts";
import { type Lease, leaseAcquire, newAttempt } from "../leases/lease.ts";
import { bucketOfArn } from "../manifest/location.ts";
import { echoRowBatches } from "../manifest/read-rows.ts";
import type { EchoRow } from "../manifest/rows.ts";
import { operationFor } from "../operations/index.ts";
import { jobJournals } from "../operations/intents.ts";
import { abortRegisteredUploads } from "../operations/uploads.ts";
import { REPORT_FORMAT, REPORT_SCHEMA, type ReportManifest, reportKeys } from "../report/layout.ts";
import { ReportTally } from "../report/report-summary.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";
import type { MergeMessage } from "../steps/messages.ts";
import { pendingClear } from "../steps/priority.ts";
import {
  type ChildView,
  type MergedBatch,
  mergeBatch,
  type RowObserver,
  type RowSet,
  type ShardView,
} from "./merge-rows.ts";
import {
  FINAL_STATUS,
  initialMergeState,
  type MergeCheckpoint,
  type MergeCounts,
  type MergeState,
  mergeFinish,
} from "./merge-state.ts";
import { abortOpenUploads } from "./orphan-uploads.ts";
import { PartCursor } from "./part-cursor.ts";

type Status = "succeeded" | "failed";

/** No gateway holding the report bucket could take the report. */
const reportLost = (lost: Map<string, string>) =>
  new AllTargetsFailedError(
    `the report could not be written to any gateway holding its bucket: ${[...lost]
      .map(([id, why]) => `${id}: ${why}`)
      .join("; ")}`,
  );

export async function mergeJob(ctx: Context, msg: MergeMessage, budget: Budget): Promise<void> {
  const job = (await jobGet(ctx.store, msg))?.value;
  if (!job || !FINAL_STATUS[job.status]) return;
  const plan = await planOf(ctx.store, msg);
  const shards = (await ctx.store.get<ShardList>(paths.shards(msg)))?.value.shards;
  if (!plan || !shards) throw new RetryableError(`job ${msg.jobId} has no plan yet`);
  try {
    // Checked at dispatch too; the role's policy may have changed since.
    reportAllowed(job, ctx.auth.forJob(job));
  } catch (err) {
    if (!(err instanceof AccessDeniedError)) throw err;
    await jobMarkFailed(ctx.store, msg, {
      failureReasons: [{ FailureCode: err.code, FailureReason: err.message.slice(0, 256) }],
    });
    await pendingClear(ctx, msg, job.priority);
    return;
  }
  const acquired = await leaseAcquire<MergeState>(ctx.store, paths.mergeState(msg), newAttempt(), {
    initial: initialMergeState,
    finished: (s) => s.done !== undefined,
    leaseMs: ctx.settings.leaseSeconds * 1000,
    log: ctx.log,
  });
  if (acquired?.kind === "finished" && acquired.doc.value.done)
    return mergeFinish(ctx, job, acquired.doc.value.done);
  if (acquired?.kind !== "held") return;
  const { lease } = acquired;
  lease.beat();
  try {
    // Uploads registered by tasks that never finished (a crash, a child given up) are aborted:
    // no multipart upload is left open in a user's bucket.
    if (!lease.value.checkpoint)
      for await (const journal of jobJournals(ctx.store, msg)) {
        const aborted = await abortRegisteredUploads(ctx.gateways, journal);
        if (aborted > 0) ctx.log.info("open uploads aborted", { jobId: msg.jobId, aborted });
      }
    let done: MergeState["done"] | undefined;
    try {
      done = await writeReport(ctx, msg, job, plan, shards, lease, budget);
    } catch (err) {
      if (!(err instanceof AllTargetsFailedError) || !job.request.Report.Enabled) throw err;
      // Every gateway holding the report bucket is lost past the outage window: the job fails.
      await jobMarkFailed(ctx.store, msg, {
        failureReasons: [{ FailureCode: "ReportFailed", FailureReason: err.message.slice(0, 256) }],
      });
      await pendingClear(ctx, msg, job.priority);
      await lease.release((s) => s);
      return;
    }
    if (!done) {
      ctx.log.info("merge handed over", { jobId: msg.jobId, nextShard: lease.value.checkpoint?.nextShard });
      await ctx.queue.send(msg);
      return;
    }
    await mergeFinish(ctx, job, done);
    ctx.log.info("merge finished", { jobId: msg.jobId, ...done.counts, attempt: lease.attempt });
  } finally {
    lease.stop();
  }
}

/** Writes the report (or the next part of it); undefined when it handed over. */
async function writeReport(
  ctx: Context,
  ref: JobRef,
  job: JobRecord,
  plan: Plan,
  shards: Shard[],
  lease: Lease<MergeState>,
  budget: Budget,
): Promise<MergeState["done"] | undefined> {
  await bitmapsReady();
  const report = job.request.Report;
  const keys = reportKeys(report.Prefix, ref.jobId);
  const reportBucket = report.Enabled && report.Bucket ? bucketOfArn(report.Bucket) : "";
  const saved = lease.value.checkpoint;
  const targets = (status: Status): WriteTarget[] =>
    plan.reportEndpoints.map((id) => ({
      s3: ctx.gateways.get(id).s3,
      availability: ctx.gateways.get(id).availability,
      bucket: reportBucket,
      key: keys.results(status),
    }));
  const writerFor = async (status: Status, wanted: boolean): Promise<FanoutWriter | undefined> => {
    if (!wanted) return undefined;
    const w = saved?.writers[status];
    if (!w) return new FanoutWriter(targets(status), ctx.settings.reportPartBytes);
    const unsent = await ctx.store.getBytes(w.carry);
    if (!unsent) throw new RetryableError(`the merge's saved part ${w.carry} is missing`);
    return FanoutWriter.resume(targets(status), ctx.settings.reportPartBytes, w.state, unsent.body);
  };
  const writers = {
    succeeded: await writerFor("succeeded", report.Enabled && report.ReportScope !== "FailedTasksOnly"),
    failed: await writerFor("failed", report.Enabled),
  };
  // Report gateways lost (an outage past the window, a refusal): the report is written to the others.
  const lost = new Map<string, string>(Object.entries(saved?.lost ?? {}));
  const onEach = async (call: (id: string) => Promise<unknown>) => {
    const live = plan.reportEndpoints.filter((id) => !lost.has(id));
    const results = await Promise.allSettled(live.map(call));
    results.forEach((r, i) => {
      if (r.status === "rejected") lost.set(live[i] as string, failureOf(r.reason));
    });
    if (lost.size > 0 && lost.size === plan.reportEndpoints.length) throw reportLost(lost);
  };
  if (report.Enabled) {
    // A merge that died left uploads open; the ones a handover carries on are kept.
    const keep = new Set(
      [writers.succeeded, writers.failed].flatMap((w) => w?.openUploads().map((u) => u.uploadId) ?? []),
    );
    await onEach((id) => {
      const gw = ctx.gateways.get(id);
      return withEndpointRetry(gw.availability, () =>
        abortOpenUploads(gw.s3, reportBucket, keys.resultsPrefix, keep),
      );
    });
  }
  const dropLost = () => {
    for (const w of [writers.succeeded, writers.failed])
      plan.reportEndpoints.forEach((id, i) => {
        const why = lost.get(id);
        if (w && why) w.drop(i, why);
      });
  };
  const noteLost = () => {
    for (const w of [writers.succeeded, writers.failed])
      for (const f of w?.failures() ?? []) {
        const id = plan.reportEndpoints[w?.targets.indexOf(f.target) ?? -1];
        if (id && !lost.has(id)) lost.set(id, f.reason);
      }
  };

  const counts: MergeCounts = saved ? { ...saved.counts } : { succeeded: 0, failed: 0 };
  const summary = new ReportTally(saved?.summary);
  // What the operation sums over the rows, if it does (the survey's sums).
  const tally = operationFor(job.request.Operation).tally?.(job, plan.routing, saved?.tally);
  const handover = async (nextShard: number) => {
    noteLost();
    const checkpoint: MergeCheckpoint = {
      nextShard,
      counts,
      summary: summary.toJSON(),
      ...(tally ? { tally: tally.toJSON() } : {}),
      writers: {},
      ...(lost.size > 0 ? { lost: Object.fromEntries(lost) } : {}),
    };
    for (const status of ["succeeded", "failed"] as const) {
      const w = writers[status];
      if (!w) continue;
      const { state, unsent } = await w.save();
      const carry = paths.mergeCarry(ref, lease.attempt, status);
      await ctx.store.putBytes(carry, unsent);
      checkpoint.writers[status] = { state, carry };
    }
    await lease.release((s) => ({ ...s, checkpoint, stalled: 0 }));
  };

  try {
    dropLost();
    const startShard = saved?.nextShard ?? 0;
    const stop = AbortSignal.any([budget.signal, lease.lost]);
    const observe = tally ? tally.row.bind(tally) : undefined;
    for await (const item of reportRows(ctx, ref, job, plan, shards, startShard, observe)) {
      if ("boundary" in item) {
        if (stop.aborted) {
          await handover(item.boundary);
          return undefined;
        }
        continue;
      }
      counts.succeeded += item.succeededRows;
      counts.failed += item.failedRows;
      if (item.summary) summary.merge(item.summary);
      if (item.succeeded) await writers.succeeded?.write(item.succeeded);
      if (item.failed) await writers.failed?.write(item.failed);
    }
    const results: ReportManifest["Results"] = [];
    for (const status of ["succeeded", "failed"] as const) {
      const w = writers[status];
      if (!w) continue;
      const { bytes, md5 } = await w.finish();
      if (bytes > 0)
        results.push({
          TaskExecutionStatus: status,
          Bucket: reportBucket,
          MD5Checksum: md5,
          Key: keys.results(status),
        });
    }
    if (report.Enabled) {
      const manifest: ReportManifest = {
        Format: REPORT_FORMAT,
        // The time the job entered its closing status: a re-run of the merge writes the same bytes.
        ReportCreationDate: job.phaseTimes[job.status] ?? new Date().toISOString(),
        Results: results,
        ReportSchema: REPORT_SCHEMA,
      };
      const body = JSON.stringify(manifest);
      noteLost();
      await onEach((id) => {
        const gw = ctx.gateways.get(id);
        return withEndpointRetry(gw.availability, () =>
          gw.s3.send(
            new PutObjectCommand({
              Bucket: reportBucket,
              Key: keys.manifest,
              Body: body,
              ContentType: "application/json",
            }),
          ),
        );
      });
    }
  } catch (err) {
    // A failed merge aborts the uploads it started. Those it resumed from a checkpoint stay: a
    // successor that took over resumes the same uploads (the report's bytes are the same).
    await Promise.all(
      (["succeeded", "failed"] as const).map((s) => (saved?.writers[s] ? undefined : writers[s]?.abort())),
    );
    throw err;
  }
  await tally?.finish(ctx.store);
  // The summary before the commit: a job that ends has its error summary.
  await ctx.store.putBytes(paths.errorSummary(ref), JSON.stringify(summary.toJSON()), "application/json");
  noteLost();
  const done = {
    counts,
    total: plan.totalRows,
    ...(lost.size > 0 ? { lost: Object.fromEntries(lost) } : {}),
  };
  if (lost.size > 0) ctx.log.warn("report incomplete", { jobId: ref.jobId, lost: [...lost.keys()] });
  await lease.release((s) => {
    const { checkpoint: _written, ...rest } = s;
    return { ...rest, done };
  });
  return done;
}

/**
 * The report rows, in batches, in manifest order: one pass over the manifest from shard
 * `startShard`, with the next shards' outputs fetched while the current one merges. Before each
 * shard after the first it yields `{ boundary }`, the shard it is about to start.
 */
async function* reportRows(
  ctx: Context,
  ref: JobRef,
  job: JobRecord,
  plan: Plan,
  shards: Shard[],
  startShard: number,
  observe?: RowObserver,
): AsyncGenerator<MergedBatch | { boundary: number }> {
  const first = shards[startShard];
  const last = shards.at(-1);
  if (!first || !last) return;
  const span = { startByte: first.startByte, endByte: last.endByte, firstRow: first.firstRow };
  const placement = operationFor(job.request.Operation).placement;
  // Shards are loaded ahead, PREFETCH at a time: each load is a few small reads, and their
  // latency, not their size, is what a shard costs.
  const progress = await listProgress(ctx.store, ref);
  let next = startShard;
  const loading: Promise<LoadedShard>[] = [];
  const fill = () => {
    while (loading.length < PREFETCH && next < shards.length) {
      const load = loadShard(ctx, ref, shards[next++] as Shard, progress, placement);
      load.catch(() => {}); // awaited in turn; an early failure must not go unhandled
      loading.push(load);
    }
  };
  fill();
  let current: LoadedShard | undefined;
  try {
    for await (const entries of echoRowBatches(ctx, plan.manifest, job.request.Manifest, span)) {
      let i = 0;
      while (i < entries.length) {
        const index = entries[i]?.index ?? 0;
        while (!current || index >= current.end) {
          if (current) {
            await current.close();
            const boundary = current.index + 1;
            current = undefined;
            yield { boundary };
          }
          const load = loading.shift();
          if (!load) throw new RetryableError(`row ${index} lies past the plan's last shard`);
          current = await load;
          fill();
        }
        // The rows of this batch in the current shard (mergeBatch leaves out the rows that never ran).
        const batch: EchoRow[] = [];
        for (; i < entries.length; i++) {
          const row = entries[i] as EchoRow;
          if (row.index >= current.end) break;
          batch.push(row);
        }
        if (batch.length === 0) continue;
        yield await mergeBatch(batch, current.view, plan.routing, observe);
      }
    }
  } finally {
    await current?.close();
    await Promise.all(loading.map((l) => l.then((s) => s.close()).catch(() => {})));
  }
}

const PREFETCH = 8;

interface LoadedShard {
  index: number;
  view: ShardView;
  /** One past the shard's last row. */
  end: number;
  close(): Promise<void>;
}

/** The output objects of a settled child, in row order: its sealed segments, then its tail. */
async function childOutputs(
  ctx: Context,
  ref: JobRef,
  p: ChildProgress,
): Promise<{ keys: string[]; state?: ChildState }> {
  const needState = p.segments > 0 || p.status === "exhausted";
  const state = needState
    ? (await ctx.store.get<ChildState>(paths.childState(ref, p.endpointId, p.shard)))?.value
    : undefined;
  if (needState && !state) throw new RetryableError(`child ${p.endpointId}/${p.shard} has no state`);
  const keys = [...(state?.segments ?? [])];
  if (p.tailAttempt) keys.push(paths.childTail(ref, p.endpointId, p.shard, p.tailAttempt, p.ranTo));
  return state ? { keys, state } : { keys };
}

/**
 * Opens a shard's child outputs, ORs their bitmaps, and leaves their outcome lines as cursors.
 * `progress` is the listing of the children's markers.
 */
async function loadShard(
  ctx: Context,
  ref: JobRef,
  shard: Shard,
  progress: Map<string, ChildProgress>,
  placement: ShardView["placement"],
): Promise<LoadedShard> {
  const end = shard.firstRow + shard.rowCount;
  const children = await Promise.all(
    shard.endpoints.map(async (endpointId) => {
      const p = progress.get(childKey(endpointId, shard.index));
      if (!p || p.status === "running")
        throw new RetryableError(`child ${endpointId}/${shard.index} has not settled`);
      const { keys, state } = await childOutputs(ctx, ref, p);
      const outputs = await Promise.all(
        keys.map(async (key) => {
          const stream = await ctx.store.getStream(key);
          if (!stream)
            throw new RetryableError(`the output ${key} of child ${endpointId}/${shard.index} is missing`);
          return openChildOutput(stream);
        }),
      );
      return {
        endpointId,
        p,
        state,
        outputs,
        outcomes: new PartCursor(chain(outputs.map((o) => o.outcomes))),
      };
    }),
  );
  const union = newBitmap();
  const views: ChildView[] = [];
  try {
    for (const c of children) {
      const mine = newBitmap();
      const found = await withBitmap(mine, async (b) => {
        for (const o of c.outputs) await withBitmap(deserializeBitmap(o.bitmap), (part) => b.orInPlace(part));
        union.orInPlace(b);
        return c.outputs.length > 0 ? RowFlags.of(b, shard.firstRow, shard.rowCount) : undefined;
      });
      const exhausted = c.p.status === "exhausted" ? c.state?.exhausted : undefined;
      views.push({
        endpointId: c.endpointId,
        bitmap: found,
        outcomes: c.outcomes,
        ...(c.p.status === "stopped" ? { ranTo: c.p.ranTo } : {}),
        ...(exhausted
          ? {
              exhaustedFrom: c.p.ranTo,
              exhausted: { http: 500, code: exhausted.code, message: exhausted.message },
            }
          : {}),
      });
    }
    const found = RowFlags.of(union, shard.firstRow, shard.rowCount);
    const exhaustedFrom = Math.min(...views.map((v) => v.exhaustedFrom ?? Number.POSITIVE_INFINITY));
    return {
      index: shard.index,
      view: { children: views, found, exhaustedFrom, placement },
      end,
      close: async () => {
        await Promise.all(children.map((c) => c.outcomes.close()));
      },
    };
  } finally {
    union.dispose();
  }
}

/** One child's outcome lines across its output objects, which hold consecutive row ranges. */
async function* chain(parts: AsyncGenerator<OutcomeEntry[]>[]): AsyncGenerator<OutcomeEntry[]> {
  try {
    for (const part of parts) yield* part;
  } finally {
    await Promise.all(parts.map((p) => p.return(undefined)));
  }
}

/** A shard's rows of a bitmap as one byte per row: a JS lookup per row instead of a WASM call. */
class RowFlags implements RowSet {
  private constructor(
    private readonly first: number,
    private readonly flags: Uint8Array,
  ) {}

  static of(bitmap: RoaringBitmap32, first: number, count: number): RowFlags {
    const flags = new Uint8Array(count);
    for (const row of bitmap.rangeUint32Array(first, first + count)) flags[row - first] = 1;
    return new RowFlags(first, flags);
  }

  has(row: number): boolean {
    return this.flags[row - this.first] === 1;
  }
}
