// Merge: streams the manifest once, shard by shard; for each row, reads which endpoints found
// the object (their valid bitmaps) and their outcomes (a k-way merge over the children's sorted
// part files), and writes exactly one report row, in manifest order, to every endpoint that
// holds the report bucket. Then manifest.json, then the job's final status.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { bitmapsReady, deserializeBitmap } from "../bitmap/valid-bitmap.ts";
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
import { manifestRows } from "../manifest/read-rows.ts";
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
import { mergeRows } from "./merge-rows.ts";
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
    for (const shard of plan.shards) {
      await mergeShard(ctx, msg, job.value, plan, shard, async (row) => {
        counts[row.status]++;
        await writers[row.status]?.write(reportLine(row));
      });
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

/** Merges one shard: one report row per manifest row that ran. */
async function mergeShard(
  ctx: Context,
  ref: JobRef,
  job: JobRecord,
  plan: Plan,
  shard: Shard,
  emit: (row: ReportRow) => Promise<void>,
): Promise<void> {
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
      return {
        endpointId,
        state,
        bitmap: bytes ? deserializeBitmap(bytes.body) : undefined,
        succeeded: await part("succeeded"),
        failed: await part("failed"),
      };
    }),
  );
  // Rows at or past a stopped child's checkpoint never ran everywhere: a cancelled job's report
  // covers only the tasks that ran.
  const shardEnd = shard.firstRow + shard.rowCount;
  const limit = Math.min(
    shardEnd,
    ...children.map((c) => (c.state?.status === "done" ? shardEnd : (c.state?.nextRow ?? shard.firstRow))),
  );
  try {
    if (limit <= shard.firstRow) return;
    const rows = async function* () {
      for await (const { row } of manifestRows(ctx, plan.manifest, job.request.Manifest, shard)) {
        if (row.index >= limit) return;
        yield row;
      }
    };
    for await (const row of mergeRows(rows(), children, plan.routing)) await emit(row);
  } finally {
    for (const c of children) {
      c.bitmap?.dispose();
      await Promise.all([c.succeeded.close(), c.failed.close()]);
    }
  }
}
