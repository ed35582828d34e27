// One measured step of the merge benchmark, in its own process so that its peak RSS is its own.
// Modes (argv[2]):
//   setup  write the synthetic job (manifest on gateway a, children in the internal bucket) and
//          print the expected counts and results-file MD5s
//   merge  run the real merge over it; print time, peak RSS and the report's sizes and MD5s
//   dispatch  dispatch's counting and sharding pass over the same manifest
//   floor  the I/O floor: stream-read the same objects the merge reads while writing objects of
//          the report's sizes, through the same client settings and emulator; print the time
// Everything else comes from the environment the driver (bench/merge.ts) sets.
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createMD5 } from "hash-wasm";
import { budgetOf } from "../lib/budget.ts";
import { childKey, listProgress } from "../lib/children/progress.ts";
import { createContext } from "../lib/create-context.ts";
import { buildPlan, type Plan, type ShardList } from "../lib/dispatch/plan.ts";
import { paths } from "../lib/jobs/paths.ts";
import { jobGet } from "../lib/jobs/store.ts";
import { mergeJob } from "../lib/merge/merge.ts";
import { ensureBucket } from "../lib/provision.ts";
import { type ReportManifest, reportKeys, reportLine } from "../lib/report/layout.ts";
import { loadSettings } from "../lib/settings.ts";
import {
  expectedRow,
  resetSyntheticJob,
  type SyntheticJobOptions,
  writeSyntheticJob,
} from "../test/helpers/synthetic-job.ts";

const mode = process.argv[2];
const rows = Number(process.env.BENCH_ROWS);
const endpoints = (process.env.BENCH_ENDPOINTS ?? "").split(",");
const ctx = createContext(loadSettings(process.env), "bench");
const home = ctx.gateways.get(endpoints[0] ?? "");
const options: SyntheticJobOptions = {
  ref: { accountId: "123456789012", jobId: `bench-v2-${rows}-${endpoints.length}` },
  rows,
  endpoints,
  home: home.endpoint.id,
  homeS3: home.s3,
  manifestBucket: "bench-manifests",
  reportBucket: "bench-reports",
  shardRows: ctx.settings.shardRows,
};

/** Peak RSS of this process so far (the kernel's high-water mark), in MiB. */
const peakRssMiB = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
};

async function drain(body: { transformToWebStream(): ReadableStream<Uint8Array> } | undefined) {
  let n = 0;
  if (!body) return n;
  for await (const chunk of body.transformToWebStream() as unknown as AsyncIterable<Uint8Array>)
    n += chunk.length;
  return n;
}

async function setup() {
  // The internal bucket first: every gateway request takes a slot of the budget kept there.
  await ensureBucket(ctx.store.s3, ctx.settings.internalBucket);
  await ensureBucket(home.s3, options.manifestBucket);
  await ensureBucket(home.s3, options.reportBucket);
  const started = performance.now();
  await writeSyntheticJob(ctx, options);
  const md5 = { succeeded: await createMD5(), failed: await createMD5() };
  const counts = { succeeded: 0, failed: 0 };
  const chunk = { succeeded: "", failed: "" };
  for (let i = 0; i < rows; i++) {
    const r = expectedRow(i, endpoints);
    counts[r.status]++;
    chunk[r.status] += reportLine(r);
    if (chunk[r.status].length > 1 << 20) {
      md5[r.status].update(chunk[r.status]);
      chunk[r.status] = "";
    }
  }
  md5.succeeded.update(chunk.succeeded);
  md5.failed.update(chunk.failed);
  return {
    setupSeconds: (performance.now() - started) / 1000,
    expected: {
      ...counts,
      md5: { succeeded: md5.succeeded.digest("hex"), failed: md5.failed.digest("hex") },
    },
  };
}

async function merge() {
  await resetSyntheticJob(ctx, options);
  const started = performance.now();
  await mergeJob(ctx, { v: 1, type: "merge", ...options.ref }, budgetOf(3_600_000, ctx.settings));
  const seconds = (performance.now() - started) / 1000;
  const job = await jobGet(ctx.store, options.ref);
  const keys = reportKeys("synthetic", options.ref.jobId);
  const got = await home.s3.send(new GetObjectCommand({ Bucket: options.reportBucket, Key: keys.manifest }));
  const manifest = JSON.parse((await got.Body?.transformToString()) ?? "{}") as ReportManifest;
  const sizes: Record<string, number> = {};
  const md5: Record<string, string> = {};
  for (const r of manifest.Results) {
    const head = await home.s3.send(new HeadObjectCommand({ Bucket: r.Bucket, Key: r.Key }));
    sizes[r.TaskExecutionStatus] = head.ContentLength ?? 0;
    md5[r.TaskExecutionStatus] = r.MD5Checksum;
  }
  return {
    seconds,
    peakRssMiB: peakRssMiB(),
    status: job?.value.status,
    progress: job?.value.progress,
    sizes,
    md5,
  };
}

async function floor() {
  const sizes = JSON.parse(process.env.BENCH_REPORT_SIZES ?? "{}") as Record<string, number>;
  const plan = (await ctx.store.get<Plan>(paths.plan(options.ref)))?.value;
  const shards = (await ctx.store.get<ShardList>(paths.shards(options.ref)))?.value.shards;
  if (!plan || !shards) throw new Error("no synthetic job: run setup first");
  const started = performance.now();
  let read = 0;
  const reads = async () => {
    const manifest = home.s3
      .send(new GetObjectCommand({ Bucket: plan.manifest.bucket, Key: plan.manifest.key }))
      .then((o) => drain(o.Body));
    const progress = await listProgress(ctx.store, options.ref);
    for (const shard of shards) {
      const sizes = await Promise.all(
        shard.endpoints.map(async (id) => {
          const child = progress.get(childKey(id, shard.index));
          if (!child?.tailAttempt) return 0;
          const Key = paths.childTail(options.ref, id, shard.index, child.tailAttempt, child.ranTo);
          const o = await ctx.store.s3.send(
            new GetObjectCommand({ Bucket: ctx.settings.internalBucket, Key }),
          );
          return drain(o.Body);
        }),
      );
      read += sizes.reduce((a, b) => a + b, 0);
    }
    read += await manifest;
  };
  const block = Buffer.alloc(1 << 20, 97);
  const writes = Object.entries(sizes).map(([status, size]) => {
    async function* body() {
      for (let left = size; left > 0; left -= block.length)
        yield left >= block.length ? block : block.subarray(0, left);
    }
    return new Upload({
      client: home.s3,
      params: {
        Bucket: options.reportBucket,
        Key: `floor/${options.ref.jobId}-${status}`,
        Body: Readable.from(body()),
      },
      partSize: ctx.settings.reportPartBytes,
      queueSize: 2,
    }).done();
  });
  await Promise.all([reads(), ...writes]);
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    peakRssMiB: peakRssMiB(),
    bytesRead: read,
    bytesWritten: Object.values(sizes).reduce((a, b) => a + b, 0),
  };
}

/** Dispatch's one pass over the same manifest: count, validate, cut shards with byte offsets. */
async function dispatch() {
  const job = await jobGet(ctx.store, options.ref);
  const plan = (await ctx.store.get<Plan>(paths.plan(options.ref)))?.value;
  const shards = (await ctx.store.get<ShardList>(paths.shards(options.ref)))?.value.shards;
  if (!job || !plan || !shards) throw new Error("no synthetic job: run setup first");
  const record = structuredClone(job.value);
  if (record.request.Manifest) record.request.Manifest.Location.ETag = plan.manifest.etag;
  const started = performance.now();
  const built = await buildPlan(ctx, record, new AbortController().signal, undefined);
  const seconds = (performance.now() - started) / 1000;
  if ("handover" in built || "sourceHandover" in built) throw new Error("the dispatch bench handed over");
  const same = built.shards.shards.every(
    (s, i) => s.startByte === shards[i]?.startByte && s.endByte === shards[i]?.endByte,
  );
  return {
    seconds,
    peakRssMiB: peakRssMiB(),
    rows: built.plan.totalRows,
    shards: built.shards.shards.length,
    offsetsMatch: same,
  };
}

const run = { setup, merge, floor, dispatch }[mode ?? ""];
if (!run) throw new Error("mode: setup | merge | floor | dispatch");
process.stdout.write(`${JSON.stringify(await run())}\n`);
