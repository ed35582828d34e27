// Merge: streams the manifest once; for each shard, ORs the children's valid bitmaps (which
// endpoints found each object) and k-way merges their outcome parts, writing exactly one report
// row per manifest row, in manifest order, to every endpoint that holds the report bucket. Then
// manifest.json, then the job's final status. Memory: one shard's bitmaps (as flags), one chunk
// per open part and the writers' bounded part queues.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import {
  bitmapsReady,
  deserializeBitmap,
  newBitmap,
  type RoaringBitmap32,
  withBitmap,
} from "../bitmap/valid-bitmap.ts";
import { openChildOutput } from "../children/output.ts";
import { listSettled, type SettledChild } from "../children/state.ts";
import type { Context } from "../context.ts";
import { RetryableError } from "../errors.ts";
import type { JobRecord, JobStatus } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import type { Plan, Shard } from "../jobs/plan.ts";
import { pendingClear } from "../jobs/priority.ts";
import { jobGet } from "../jobs/store.ts";
import { jobMarkCancelled, jobMarkComplete, jobMarkFailed } from "../jobs/transitions.ts";
import { bucketOfArn } from "../manifest/location.ts";
import { echoRowBatches } from "../manifest/read-rows.ts";
import type { EchoRow } from "../manifest/rows.ts";
import type { MergeMessage } from "../queue/messages.ts";
import { FanoutWriter } from "./fanout-writer.ts";
import { REPORT_FORMAT, REPORT_SCHEMA, type ReportManifest, reportKeys } from "./layout.ts";
import { type ChildView, type MergedBatch, mergeBatch, type RowSet, type ShardView } from "./merge-rows.ts";
import { abortOpenUploads } from "./orphan-uploads.ts";
import { PartCursor } from "./part-cursor.ts";

const FINAL: Partial<Record<JobStatus, typeof jobMarkComplete>> = {
  Completing: jobMarkComplete,
  Cancelling: jobMarkCancelled,
  Failing: jobMarkFailed,
};

export async function mergeJob(ctx: Context, msg: MergeMessage): Promise<void> {
  const job = await jobGet(ctx.store, msg);
  const markFinal = job && FINAL[job.value.status];
  if (!job || !markFinal) return;
  const plan = (await ctx.store.get<Plan>(paths.plan(msg)))?.value;
  if (!plan) throw new RetryableError(`job ${msg.jobId} has no plan yet`);
  await bitmapsReady();

  const report = job.value.request.Report;
  const keys = reportKeys(report.Prefix, msg.jobId);
  const reportBucket = report.Enabled && report.Bucket ? bucketOfArn(report.Bucket) : "";
  const writerFor = (status: "succeeded" | "failed") =>
    new FanoutWriter(
      plan.reportEndpoints.map((id) => ({
        s3: ctx.gateways.get(id).s3,
        bucket: reportBucket,
        key: keys.results(status),
      })),
      ctx.settings.reportPartBytes,
    );
  if (report.Enabled) {
    await Promise.all(
      plan.reportEndpoints.map((id) =>
        abortOpenUploads(ctx.gateways.get(id).s3, reportBucket, keys.resultsPrefix),
      ),
    );
  }
  const writers = {
    succeeded:
      report.Enabled && report.ReportScope !== "FailedTasksOnly" ? writerFor("succeeded") : undefined,
    failed: report.Enabled ? writerFor("failed") : undefined,
  };

  const counts = { succeeded: 0, failed: 0 };
  try {
    for await (const rows of reportRows(ctx, msg, job.value, plan)) {
      counts.succeeded += rows.succeededRows;
      counts.failed += rows.failedRows;
      if (rows.succeeded) await writers.succeeded?.write(rows.succeeded);
      if (rows.failed) await writers.failed?.write(rows.failed);
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
        ReportCreationDate: job.value.phaseTimes[job.value.status] ?? new Date().toISOString(),
        Results: results,
        ReportSchema: REPORT_SCHEMA,
      };
      const body = JSON.stringify(manifest);
      await Promise.all(
        plan.reportEndpoints.map((id) =>
          ctx.gateways.get(id).s3.send(
            new PutObjectCommand({
              Bucket: reportBucket,
              Key: keys.manifest,
              Body: body,
              ContentType: "application/json",
            }),
          ),
        ),
      );
    }
  } catch (err) {
    await Promise.all([writers.succeeded?.abort(), writers.failed?.abort()]);
    throw err;
  }
  await markFinal(ctx.store, msg, { progress: { total: plan.totalRows, ...counts } });
  await pendingClear(ctx, msg, job.value.priority);
}

/**
 * The report rows, in batches, in manifest order: one pass over the manifest, shard by shard,
 * with the next shards' bitmaps fetched while the current one merges.
 */
async function* reportRows(
  ctx: Context,
  ref: JobRef,
  job: JobRecord,
  plan: Plan,
): AsyncGenerator<MergedBatch> {
  const first = plan.shards[0];
  const last = plan.shards.at(-1);
  if (!first || !last) return;
  const span = { startByte: first.startByte, endByte: last.endByte, firstRow: first.firstRow };
  // Shards are loaded ahead, PREFETCH at a time: each load is a few small reads, and their
  // latency, not their size, is what a shard costs.
  const settled = await listSettled(ctx.store, ref);
  let next = 0;
  const loading: Promise<LoadedShard>[] = [];
  const fill = () => {
    while (loading.length < PREFETCH && next < plan.shards.length) {
      const load = loadShard(ctx, ref, plan.shards[next++] as Shard, settled);
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
          await current?.close();
          current = undefined;
          const load = loading.shift();
          if (!load) throw new RetryableError(`row ${index} lies past the plan's last shard`);
          current = await load;
          fill();
        }
        // The rows of this batch in the current shard; rows at or past its limit never ran.
        const batch: EchoRow[] = [];
        for (; i < entries.length; i++) {
          const row = entries[i] as EchoRow;
          if (row.index >= current.end) break;
          if (row.index < current.limit) batch.push(row);
        }
        if (batch.length === 0) continue;
        yield await mergeBatch(batch, current.view, plan.routing);
      }
    }
  } finally {
    await current?.close();
    await Promise.all(loading.map((l) => l.then((s) => s.close()).catch(() => {})));
  }
}

const PREFETCH = 8;

interface LoadedShard {
  view: ShardView;
  /** One past the shard's last row. */
  end: number;
  /** Rows at or past this one did not run on every endpoint (a stopped child's checkpoint). */
  limit: number;
  close(): Promise<void>;
}

/**
 * Opens a shard's child outputs (one object per child that found anything), ORs their bitmaps,
 * and leaves their outcome lines as cursors. `settled` is the listing of the children's markers.
 */
async function loadShard(
  ctx: Context,
  ref: JobRef,
  shard: Shard,
  settled: Map<string, SettledChild>,
): Promise<LoadedShard> {
  const end = shard.firstRow + shard.rowCount;
  const children = await Promise.all(
    shard.endpoints.map(async (endpointId) => {
      const state = settled.get(`${endpointId}/${shard.index}`);
      if (!state) throw new RetryableError(`child ${endpointId}/${shard.index} has not settled`);
      const stream =
        state.found > 0
          ? await ctx.store.getStream(paths.childOutput(ref, endpointId, shard.index, state.attempt))
          : undefined;
      if (state.found > 0 && !stream)
        throw new RetryableError(`the output of child ${endpointId}/${shard.index} is missing`);
      const output = stream ? await openChildOutput(stream) : undefined;
      return { endpointId, state, output, outcomes: new PartCursor(output?.outcomes) };
    }),
  );
  const union = newBitmap();
  const views: ChildView[] = [];
  try {
    for (const c of children) {
      const found = c.output
        ? await withBitmap(deserializeBitmap(c.output.bitmap), (b) => {
            union.orInPlace(b);
            return RowFlags.of(b, shard.firstRow, shard.rowCount);
          })
        : undefined;
      views.push({ endpointId: c.endpointId, bitmap: found, outcomes: c.outcomes });
    }
    const found = RowFlags.of(union, shard.firstRow, shard.rowCount);
    const limit = Math.min(end, ...children.map((c) => (c.state.status === "done" ? end : c.state.nextRow)));
    return {
      view: { children: views, found },
      end,
      limit,
      close: async () => {
        await Promise.all(children.map((c) => c.outcomes.close()));
      },
    };
  } finally {
    union.dispose();
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
