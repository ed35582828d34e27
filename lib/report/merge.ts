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
import type { ChildState } from "../children/state.ts";
import type { Context } from "../context.ts";
import { RetryableError } from "../errors.ts";
import type { JobRecord, JobStatus } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import type { Plan, Shard } from "../jobs/plan.ts";
import { pendingClear } from "../jobs/priority.ts";
import { jobGet } from "../jobs/store.ts";
import { jobMarkCancelled, jobMarkComplete, jobMarkFailed } from "../jobs/transitions.ts";
import { bucketOfArn } from "../manifest/location.ts";
import { manifestRowBatches } from "../manifest/read-rows.ts";
import type { ManifestEntry, TaskRow } from "../manifest/rows.ts";
import type { MergeMessage } from "../queue/messages.ts";
import { FanoutWriter } from "./fanout-writer.ts";
import {
  REPORT_FORMAT,
  REPORT_SCHEMA,
  type ReportManifest,
  type ReportRow,
  reportKeys,
  reportLine,
} from "./layout.ts";
import { type ChildView, mergeRows, type RowSet, type ShardView } from "./merge-rows.ts";
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
      let succeeded = "";
      let failed = "";
      for (const row of rows) {
        counts[row.status]++;
        if (row.status === "succeeded") {
          if (writers.succeeded) succeeded += reportLine(row);
        } else if (writers.failed) failed += reportLine(row);
      }
      if (succeeded) await writers.succeeded?.write(succeeded);
      if (failed) await writers.failed?.write(failed);
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
 * with the next shard's bitmaps fetched while the current one merges.
 */
async function* reportRows(
  ctx: Context,
  ref: JobRef,
  job: JobRecord,
  plan: Plan,
): AsyncGenerator<ReportRow[]> {
  const first = plan.shards[0];
  const last = plan.shards.at(-1);
  if (!first || !last) return;
  const span = { startByte: first.startByte, endByte: last.endByte, firstRow: first.firstRow };
  let next = 0;
  let loading: Promise<LoadedShard> | undefined = loadShard(ctx, ref, first);
  let current: LoadedShard | undefined;
  try {
    for await (const entries of manifestRowBatches(ctx, plan.manifest, job.request.Manifest, span)) {
      let i = 0;
      while (i < entries.length) {
        const index = entries[i]?.row.index ?? 0;
        while (!current || index >= current.end) {
          await current?.close();
          current = undefined;
          const shard = plan.shards[next++];
          if (!shard || !loading) throw new RetryableError(`row ${index} lies past the plan's last shard`);
          current = await loading;
          const after = plan.shards[next];
          loading = after ? loadShard(ctx, ref, after) : undefined;
        }
        // The rows of this batch in the current shard; rows at or past its limit never ran.
        const batch: TaskRow[] = [];
        for (; i < entries.length; i++) {
          const row = (entries[i] as ManifestEntry).row;
          if (row.index >= current.end) break;
          if (row.index < current.limit) batch.push(row);
        }
        if (batch.length === 0) continue;
        for await (const rows of mergeRows(once(batch), current.view, plan.routing)) yield rows;
      }
    }
  } finally {
    await current?.close();
    await loading?.then((l) => l.close()).catch(() => {});
  }
}

async function* once<T>(item: T): AsyncGenerator<T> {
  yield item;
}

interface LoadedShard {
  view: ShardView;
  /** One past the shard's last row. */
  end: number;
  /** Rows at or past this one did not run on every endpoint (a stopped child's checkpoint). */
  limit: number;
  close(): Promise<void>;
}

/** Reads a shard's child states and bitmaps, ORs the bitmaps, and opens the part cursors. */
async function loadShard(ctx: Context, ref: JobRef, shard: Shard): Promise<LoadedShard> {
  const end = shard.firstRow + shard.rowCount;
  const children = await Promise.all(
    shard.endpoints.map(async (endpointId) => {
      const state = (await ctx.store.get<ChildState>(paths.childState(ref, endpointId, shard.index)))?.value;
      const attempt = state?.attempt;
      const bytes = attempt
        ? await ctx.store.getBytes(paths.childBitmap(ref, endpointId, shard.index, attempt))
        : undefined;
      const part = (kind: "succeeded" | "failed") =>
        attempt
          ? PartCursor.open(ctx.store, paths.childPart(ref, endpointId, shard.index, attempt, kind))
          : PartCursor.empty();
      return { endpointId, state, bytes, succeeded: await part("succeeded"), failed: await part("failed") };
    }),
  );
  const union = newBitmap();
  const views: ChildView[] = [];
  try {
    for (const c of children) {
      if (!c.bytes) {
        views.push({ endpointId: c.endpointId, bitmap: undefined, succeeded: c.succeeded, failed: c.failed });
        continue;
      }
      const found = await withBitmap(deserializeBitmap(c.bytes.body), (b) => {
        union.orInPlace(b);
        return RowFlags.of(b, shard.firstRow, shard.rowCount);
      });
      views.push({ endpointId: c.endpointId, bitmap: found, succeeded: c.succeeded, failed: c.failed });
    }
    const found = RowFlags.of(union, shard.firstRow, shard.rowCount);
    const limit = Math.min(
      end,
      ...children.map((c) => (c.state?.status === "done" ? end : (c.state?.nextRow ?? shard.firstRow))),
    );
    return {
      view: { children: views, found },
      end,
      limit,
      close: async () => {
        await Promise.all(children.flatMap((c) => [c.succeeded.close(), c.failed.close()]));
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
