// The merge as users see it: the report's rows in manifest order, one per task, across shards and
// endpoints; FailedTasksOnly; duplicate merge messages; and a merge killed midway and retried,
// which must leave no multipart upload behind and write the same report.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { budgetOf } from "../../lib/budget.ts";
import type { Context } from "../../lib/context.ts";
import { createContext } from "../../lib/create-context.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import { mergeJob } from "../../lib/merge/merge.ts";
import { ensureBucket, ensureQueues, queueEnv } from "../../lib/provision.ts";
import { reportKeys } from "../../lib/report/layout.ts";
import { loadSettings } from "../../lib/settings.ts";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { freshBucket, listKeys, readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID, TEST_CREDENTIALS, TEST_ROLES } from "../helpers/clients.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import {
  expectedReport,
  resetSyntheticJob,
  type SyntheticJobOptions,
  writeSyntheticJob,
} from "../helpers/synthetic-job.ts";

const openUploads = async (s3: S3Client, bucket: string) =>
  (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

describe("the report of a job over both gateways, several shards", () => {
  let t: TestRuntime;
  // Row i: on A, on B, on both, on neither, or in a bucket no gateway holds; tagging fails on
  // nothing, so the outcome is decided by where the object is.
  const rows = Array.from({ length: 23 }, (_, i) => i);
  const place = (i: number) => (["a", "b", "both", "none", "nobucket"] as const)[i % 5];
  const keyOf = (i: number) => `dir/obj ${i},x`; // space and comma: URL-encoded in the manifest
  const manifest = rows
    .map((i) => `${place(i) === "nobucket" ? "no-such-bucket-here" : "pool"},${encodeURIComponent(keyOf(i))}`)
    .join("\n");
  const expected = (status: "succeeded" | "failed") =>
    rows
      .filter((i) => (["a", "b", "both"].includes(place(i) ?? "") ? "succeeded" : "failed") === status)
      .map((i) => {
        const bucket = place(i) === "nobucket" ? "no-such-bucket-here" : "pool";
        const key = encodeURIComponent(keyOf(i));
        if (status === "succeeded") return `${bucket},${key},,succeeded,200,,Successful\n`;
        return place(i) === "nobucket"
          ? `${bucket},${key},,failed,404,NoSuchBucket,The specified bucket does not exist on any endpoint\n`
          : `${bucket},${key},,failed,404,NoSuchKey,The specified key does not exist on any endpoint\n`;
      })
      .join("");
  let manifestRef: { arn: string; etag: string };

  beforeAll(async () => {
    t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "4" });
    for (const s3 of [t.gatewayA, t.gatewayB]) {
      await freshBucket(s3, "pool");
      await freshBucket(s3, "pool2");
    }
    for (const i of rows) {
      const on = place(i);
      const targets =
        on === "a" ? [t.gatewayA] : on === "b" ? [t.gatewayB] : on === "both" ? [t.gatewayA, t.gatewayB] : [];
      for (const s3 of targets)
        await s3.send(new PutObjectCommand({ Bucket: "pool", Key: keyOf(i), Body: `${i}` }));
    }
    const put = await t.gatewayA.send(
      new PutObjectCommand({ Bucket: "pool", Key: "order.csv", Body: manifest }),
    );
    manifestRef = { arn: "arn:aws:s3:::pool/order.csv", etag: put.ETag ?? "" };
  });
  afterAll(() => t?.stop());

  const run = (reportScope: "AllTasks" | "FailedTasksOnly") =>
    runReportedJob(
      t.control,
      t.gatewayA,
      "pool2",
      createJobInput(manifestRef, { S3PutObjectTagging: { TagSet: [{ Key: "merged", Value: "yes" }] } }),
      { reportScope },
    );

  it("writes one row per task, in manifest order, on both gateways holding the report bucket", async () => {
    const { job, jobId, keys } = await run("AllTasks");
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 23,
      NumberOfTasksSucceeded: 15,
      NumberOfTasksFailed: 8,
    });
    for (const s3 of [t.gatewayA, t.gatewayB]) {
      expect(await readText(s3, "pool2", keys.results("succeeded"))).toBe(expected("succeeded"));
      expect(await readText(s3, "pool2", keys.results("failed"))).toBe(expected("failed"));
      const m = JSON.parse(await readText(s3, "pool2", keys.manifest));
      expect(m.Results.map((r: { Key: string }) => r.Key).sort()).toEqual(
        [`${keys.resultsPrefix}${jobId}-failed.csv`, `${keys.resultsPrefix}${jobId}-succeeded.csv`].sort(),
      );
    }
  });

  it("writes only the failed rows with ReportScope FailedTasksOnly", async () => {
    const { job, jobId, keys } = await run("FailedTasksOnly");
    expect(job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 15, NumberOfTasksFailed: 8 });
    expect(await listKeys(t.gatewayA, "pool2", keys.resultsPrefix)).toEqual([keys.results("failed")]);
    expect(await readText(t.gatewayA, "pool2", keys.results("failed"))).toBe(expected("failed"));
    const m = JSON.parse(await readText(t.gatewayA, "pool2", keys.manifest));
    expect(m.Results).toEqual([
      expect.objectContaining({
        TaskExecutionStatus: "failed",
        Key: `${keys.resultsPrefix}${jobId}-failed.csv`,
      }),
    ]);
  });
});

describe("a merge of a synthetic 150,000-row job over both gateways", () => {
  const emulators = inject("emulators");
  const env = {
    AWS_ENDPOINT_URL: emulators.control,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: "1",
    S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
    S3BATCH_ROLES: TEST_ROLES,
    S3BATCH_INTERNAL_BUCKET: `s3batch-merge-${randomUUID().slice(0, 8)}`,
    S3BATCH_REPORT_PART_BYTES: String(5 * 1024 * 1024),
    S3BATCH_LEASE_SECONDS: "3",
    S3BATCH_LOG_LEVEL: "warn",
  };
  // Queues nobody consumes: a handover's message waits there, and the test runs the merge itself.
  const queues: Record<string, string> = {};
  let ctx: Context;
  let home: ReturnType<Context["gateways"]["get"]>;
  const reportBucket = `merge-report-${randomUUID().slice(0, 8)}`;
  const endpoints = ["gateway-a", "gateway-b"];
  let options: SyntheticJobOptions;
  const reference = expectedReport(150_000, endpoints);
  const keys = reportKeys("synthetic", "synthetic-150k");
  const budget = () => budgetOf(600_000, ctx.settings);
  const merge = (b = budget()) => mergeJob(ctx, { v: 1, type: "merge", ...options.ref }, b);
  /** Runs the merge, as poll would drive it again, until the job is closed. */
  const mergeUntilClosed = async (b = budget) => {
    const deadline = Date.now() + 90_000;
    let runs = 0;
    while ((await jobGet(ctx.store, options.ref))?.value.status === "Completing") {
      if (Date.now() > deadline) throw new Error("the merge did not finish");
      await merge(b());
      runs++;
      if ((await jobGet(ctx.store, options.ref))?.value.status === "Completing")
        await new Promise((r) => setTimeout(r, 500));
    }
    return runs;
  };

  beforeAll(async () => {
    const sqs = new SQSClient({ region: "us-east-1", endpoint: emulators.control });
    Object.assign(queues, queueEnv(await ensureQueues(sqs, `m-${randomUUID().slice(0, 8)}`)));
    sqs.destroy();
    ctx = createContext(loadSettings({ ...env, ...queues }), "merge");
    home = ctx.gateways.get("gateway-a");
    options = {
      ref: { accountId: ACCOUNT_ID, jobId: "synthetic-150k" },
      rows: 150_000,
      endpoints,
      home: "gateway-a",
      homeS3: home.s3,
      manifestBucket: reportBucket,
      reportBucket,
      shardRows: 10_000,
    };
    await ensureBucket(ctx.store.s3, env.S3BATCH_INTERNAL_BUCKET);
    await ensureBucket(home.s3, reportBucket);
    await writeSyntheticJob(ctx, options);
  });

  const expectReference = async () => {
    expect(await readText(home.s3, reportBucket, keys.results("succeeded"))).toBe(reference.succeeded);
    expect(await readText(home.s3, reportBucket, keys.results("failed"))).toBe(reference.failed);
    const job = await jobGet(ctx.store, options.ref);
    expect(job?.value.status).toBe("Complete");
    expect(await openUploads(home.s3, reportBucket)).toEqual([]);
  };

  it("is killed after its first report part, and a retry leaves no upload open and the same report", async () => {
    await resetSyntheticJob(ctx, options);
    const killed = spawnSync(process.execPath, ["--import", "tsx", "test/helpers/merge-and-die.ts"], {
      env: { ...process.env, ...env, ...queues, MERGE_JOB_ID: options.ref.jobId, MERGE_HOME: "gateway-a" },
      encoding: "utf8",
    });
    expect(killed.signal).toBe("SIGKILL");
    // The dead merge left its multipart uploads open (the report is over one 5 MiB part).
    expect((await openUploads(home.s3, reportBucket)).length).toBeGreaterThan(0);
    expect((await jobGet(ctx.store, options.ref))?.value.status).toBe("Completing");

    // Its lease holds the merge until it expires; then the next delivery takes over.
    expect(await mergeUntilClosed()).toBeGreaterThanOrEqual(2);
    await expectReference();
  });

  it("hands over at shard boundaries when its budget runs out, and writes the same report", async () => {
    await resetSyntheticJob(ctx, options);
    // A spent budget: every invocation merges one shard and hands the rest on.
    const runs = await mergeUntilClosed(() => budgetOf(0, ctx.settings));
    expect(runs).toBe(15);
    await expectReference();
  });

  it("gives the same report when the merge message arrives twice at once, and again after the job closed", async () => {
    await resetSyntheticJob(ctx, options);
    // The lease lets one of them write the report; the other finds it taken and leaves.
    await Promise.all([merge(), merge()]);
    await expectReference();
    const before = await readText(home.s3, reportBucket, keys.manifest);
    await merge();
    expect(await readText(home.s3, reportBucket, keys.manifest)).toBe(before);
    await expectReference();
  });
});
