// A job of any size, written straight into the internal bucket as dispatch and the children
// would have left it (job record in Completing, plan, one settled child per shard × endpoint with
// its output and marker), over a manifest uploaded to a gateway. The merge bench and the
// merge's kill-and-retry test run the real merge over it. Outcomes are a pure function of the row
// number, so `expectedRow` is the reference a report is checked against.
import { Readable } from "node:stream";
import { CreateBucketCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import pLimit from "p-limit";
import { bitmapsReady, newBitmap, serializeBitmap } from "../../lib/bitmap/valid-bitmap.ts";
import { encodeChildOutput, outcomeLine } from "../../lib/children/output.ts";
import { progressMarkerKey } from "../../lib/children/progress.ts";
import type { ChildState } from "../../lib/children/state.ts";
import type { Context } from "../../lib/context.ts";
import type { Plan, Shard, ShardList } from "../../lib/dispatch/plan.ts";
import type { JobRecord } from "../../lib/jobs/model.ts";
import { type JobRef, paths } from "../../lib/jobs/paths.ts";
import { type ReportRow, reportLine } from "../../lib/report/layout.ts";

export interface SyntheticJobOptions {
  ref: JobRef;
  rows: number;
  /** Endpoint ids, in configured order; each may hold the data bucket. */
  endpoints: string[];
  /** The endpoint holding the manifest and the report bucket. */
  home: string;
  /** The gateway client of `home`. */
  homeS3: S3Client;
  manifestBucket: string;
  reportBucket: string;
  shardRows: number;
  reportScope?: "AllTasks" | "FailedTasksOnly";
}

export const DATA_BUCKET = "synthetic-data";
/** A bucket no endpoint holds: its rows are NoSuchBucket. */
export const GONE_BUCKET = "synthetic-gone";
/** The attempt id the synthetic children write under (attempt ids are hex). */
const ATTEMPT = "5e7e7e7e";

const bucketOf = (row: number) => (row % 97 === 96 ? GONE_BUCKET : DATA_BUCKET);
const keyOf = (row: number) => `obj/${String(row).padStart(9, "0")}`;
/** Whether endpoint number `e` found row `row`: most rows are on most endpoints, some on none. */
const foundOn = (row: number, e: number) =>
  bucketOf(row) === DATA_BUCKET && (Math.imul(row ^ (e * 40503), 2654435761) >>> 29) % 4 !== 0;
/** Whether the task failed on endpoint number `e` (403), given it was found there. */
const failedOn = (row: number, e: number) => (row * 7 + e * 13) % 101 === 0;
const FAILURE = { http: 403, code: "AccessDenied", message: "Access Denied" };

/** The report row the merge must write for `row`. */
export function expectedRow(row: number, endpoints: readonly string[]): ReportRow {
  const base = { bucket: bucketOf(row), key: keyOf(row) };
  const found = endpoints.map((_, e) => e).filter((e) => foundOn(row, e));
  if (found.length === 0) {
    const gone = base.bucket === GONE_BUCKET;
    return {
      ...base,
      status: "failed",
      http: 404,
      code: gone ? "NoSuchBucket" : "NoSuchKey",
      message: gone
        ? "The specified bucket does not exist on any endpoint"
        : "The specified key does not exist on any endpoint",
    };
  }
  const failed = found.filter((e) => failedOn(row, e));
  if (failed.length === 0)
    return { ...base, status: "succeeded", http: 200, code: "", message: "Successful" };
  return {
    ...base,
    status: "failed",
    ...FAILURE,
    message: failed.map((e) => `endpoint ${endpoints[e]}: ${FAILURE.message}`).join("; "),
  };
}

/** The whole expected report, as the two results files' text (for small jobs). */
export function expectedReport(rows: number, endpoints: readonly string[]) {
  let succeeded = "";
  let failed = "";
  for (let i = 0; i < rows; i++) {
    const r = expectedRow(i, endpoints);
    if (r.status === "succeeded") succeeded += reportLine(r);
    else failed += reportLine(r);
  }
  return { succeeded, failed };
}

/** Uploads the manifest (streamed in 1 MiB chunks) unless an object of the right size is there. */
async function writeManifest(o: SyntheticJobOptions): Promise<{ etag: string; size: number }> {
  const key = manifestKey(o.rows);
  await o.homeS3.send(new CreateBucketCommand({ Bucket: o.manifestBucket })).catch(() => {});
  const head = await o.homeS3
    .send(new HeadObjectCommand({ Bucket: o.manifestBucket, Key: key }))
    .catch(() => undefined);
  if (head?.ETag && head.ContentLength) return { etag: head.ETag, size: head.ContentLength };
  async function* chunks() {
    let text = "";
    for (let i = 0; i < o.rows; i++) {
      text += `${bucketOf(i)},${keyOf(i)}\n`;
      if (text.length >= 1 << 20) {
        yield Buffer.from(text);
        text = "";
      }
    }
    if (text) yield Buffer.from(text);
  }
  await new Upload({
    client: o.homeS3,
    params: { Bucket: o.manifestBucket, Key: key, Body: Readable.from(chunks()) },
    partSize: 16 * 1024 * 1024,
    queueSize: 2,
  }).done();
  const after = await o.homeS3.send(new HeadObjectCommand({ Bucket: o.manifestBucket, Key: key }));
  return { etag: after.ETag ?? "", size: after.ContentLength ?? 0 };
}

export const manifestKey = (rows: number) => `synthetic-${rows}.csv`;

/** Writes the job (Completing) over a manifest of `o.rows` rows; the children's outputs only once. */
export async function writeSyntheticJob(
  ctx: Context,
  o: SyntheticJobOptions,
): Promise<{ plan: Plan; shards: Shard[] }> {
  await bitmapsReady();
  const manifest = await writeManifest(o);
  const lineBytes = (i: number) => bucketOf(i).length + keyOf(i).length + 2;
  const shards: Shard[] = [];
  let byte = 0;
  for (let first = 0; first < o.rows; first += o.shardRows) {
    const count = Math.min(o.shardRows, o.rows - first);
    let size = 0;
    for (let i = first; i < first + count; i++) size += lineBytes(i);
    shards.push({
      index: shards.length,
      firstRow: first,
      rowCount: count,
      startByte: byte,
      endByte: byte + size,
      endpoints: o.endpoints,
    });
    byte += size;
  }
  const plan: Plan = {
    schema: 2,
    manifest: {
      endpointId: o.home,
      bucket: o.manifestBucket,
      key: manifestKey(o.rows),
      etag: manifest.etag.replaceAll('"', ""),
      size: manifest.size,
    },
    totalRows: o.rows,
    shardCount: shards.length,
    childCount: shards.length * o.endpoints.length,
    routing: { [DATA_BUCKET]: o.endpoints, [GONE_BUCKET]: [] },
    reportEndpoints: [o.home],
  };
  const existing = await ctx.store.get<Plan>(paths.plan(o.ref));
  const complete = existing && JSON.stringify(existing.value) === JSON.stringify(plan);
  if (!complete || !(await ctx.store.firstKey(paths.progress(o.ref)))) {
    const limit = pLimit(16);
    await Promise.all(
      shards.flatMap((shard) => o.endpoints.map((id, e) => limit(() => writeChild(ctx, o, shard, id, e)))),
    );
    const list: ShardList = { shards };
    await ctx.store.putBytes(paths.shards(o.ref), JSON.stringify(list), "application/json");
    await ctx.store.putBytes(paths.plan(o.ref), JSON.stringify(plan), "application/json");
  }
  await resetSyntheticJob(ctx, o);
  return { plan, shards };
}

/** Puts the job back in Completing, as poll leaves it, so the merge can run (again). */
export async function resetSyntheticJob(ctx: Context, o: SyntheticJobOptions): Promise<void> {
  const now = new Date().toISOString();
  const record: JobRecord = {
    schema: 1,
    accountId: o.ref.accountId,
    jobId: o.ref.jobId,
    status: "Completing",
    request: {
      ConfirmationRequired: false,
      Operation: { S3PutObjectTagging: { TagSet: [{ Key: "k", Value: "v" }] } },
      Report: {
        Bucket: `arn:aws:s3:::${o.reportBucket}`,
        Format: "Report_CSV_20180820",
        Enabled: true,
        Prefix: "synthetic",
        ReportScope: o.reportScope ?? "AllTasks",
      },
      Manifest: {
        Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] },
        Location: { ObjectArn: `arn:aws:s3:::${o.manifestBucket}/${manifestKey(o.rows)}`, ETag: "synthetic" },
      },
      Priority: 10,
      RoleArn: `arn:aws:iam::${o.ref.accountId}:role/batch-operations`,
    },
    priority: 10,
    tags: [],
    createdAt: now,
    phaseTimes: { New: now, Active: now, Completing: now },
    history: [
      { status: "New", at: now },
      { status: "Active", at: now },
      { status: "Completing", at: now },
    ],
    progress: { total: o.rows, succeeded: 0, failed: 0 },
    failureReasons: [],
  };
  await ctx.store.putBytes(paths.job(o.ref), JSON.stringify(record), "application/json");
  await ctx.store.delete(paths.mergeState(o.ref));
}

async function writeChild(ctx: Context, o: SyntheticJobOptions, shard: Shard, id: string, e: number) {
  const bitmap = newBitmap();
  let outcomes = "";
  let found = 0;
  let failures = 0;
  try {
    const rows: number[] = [];
    for (let i = shard.firstRow; i < shard.firstRow + shard.rowCount; i++) {
      if (!foundOn(i, e)) continue;
      rows.push(i);
      found++;
      if (failedOn(i, e)) {
        failures++;
        outcomes += outcomeLine(i, { kind: "failed", ...FAILURE });
      }
    }
    bitmap.addMany(rows);
    const output = encodeChildOutput(serializeBitmap(bitmap), outcomes);
    const end = shard.firstRow + shard.rowCount;
    const tail = found > 0 ? paths.childTail(o.ref, id, shard.index, ATTEMPT, end) : undefined;
    if (tail) await ctx.store.putBytes(tail, output);
    const now = new Date().toISOString();
    const state: ChildState = {
      schema: 2,
      jobId: o.ref.jobId,
      endpointId: id,
      shard: shard.index,
      span: {
        firstRow: shard.firstRow,
        rowCount: shard.rowCount,
        startByte: shard.startByte,
        endByte: shard.endByte,
      },
      status: "done",
      nextRow: end,
      succeeded: found - failures,
      failed: failures,
      found,
      missing: 0,
      segments: [],
      ...(tail ? { tail } : {}),
      attempts: 1,
      stalled: 0,
      startedAt: now,
      updatedAt: now,
    };
    state.marker = progressMarkerKey(o.ref, state);
    await ctx.store.putBytes(
      paths.childState(o.ref, id, shard.index),
      JSON.stringify(state),
      "application/json",
    );
    await ctx.store.putBytes(state.marker, "", "text/plain");
  } finally {
    bitmap.dispose();
  }
}
