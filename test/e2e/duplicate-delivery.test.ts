import {
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { S3ControlClient } from "@aws-sdk/client-s3-control";
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createContext } from "../../lib/create-context.ts";
import type { ShardList } from "../../lib/dispatch/plan.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { ensureBucket } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import type { JsonStore } from "../../lib/store/json-store.ts";
import { readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient, TEST_CREDENTIALS } from "../helpers/clients.ts";
import { startDenoRuntime } from "../helpers/deno-runtime.ts";
import { deploymentEnv } from "../helpers/deployment.ts";
import { startDuplicatingProxy } from "../helpers/duplicating-proxy.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

const emulators = inject("emulators");
const a = gatewayClient(emulators.gatewayA);
const b = gatewayClient(emulators.gatewayB);
const sqs = new SQSClient({
  region: "us-east-1",
  endpoint: emulators.control,
  credentials: TEST_CREDENTIALS,
});
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const c of [a, b, sqs]) c.destroy();
});

// Two rows per shard and a checkpoint after every row: many children, many checkpoints.
const SETTINGS = { S3BATCH_SHARD_ROWS: "2", S3BATCH_CHECKPOINT_ROWS: "1", S3BATCH_POLL_DELAY_SECONDS: "1" };

interface Under {
  control: S3ControlClient;
  /** The internal bucket, read directly. */
  store: JsonStore;
  queues: string[];
}

async function nodeRuntime(proxy: string): Promise<Under> {
  const t = await startTestRuntime({ ...SETTINGS, AWS_ENDPOINT_URL: proxy });
  cleanups.push(() => t.stop());
  return {
    control: t.control,
    store: t.runtime.ctx.store,
    queues: Object.values(t.runtime.ctx.settings.queues),
  };
}

async function denoRuntime(proxy: string): Promise<Under> {
  const env: Record<string, string> = {
    ...(await deploymentEnv(emulators, 0, SETTINGS, "deno")),
    AWS_ENDPOINT_URL: proxy,
  };
  const ctx = createContext(loadSettings({ ...env, AWS_ENDPOINT_URL: emulators.control }), "observer");
  await ensureBucket(ctx.store.s3, ctx.settings.internalBucket);
  const deno = await startDenoRuntime(env);
  const control = s3ControlClient(deno.url);
  cleanups.push(() => {
    control.destroy();
    deno.stop();
    ctx.gateways.destroy();
  });
  return { control, store: ctx.store, queues: Object.values(ctx.settings.queues) };
}

const SPACED_KEY = "dir/with space,comma.txt";
const MANIFEST = [
  "pool,a1",
  "pool,b1",
  "pool,both1",
  "pool,missing1",
  `pool,${encodeURIComponent(SPACED_KEY)}`,
  "pool,b2",
  "pool,a2",
  "pool,missing2",
  "pool,b3",
].join("\n");
const TagSet = [{ Key: "batch", Value: "twice" }];

async function put(s3: S3Client, Key: string) {
  await s3.send(new PutObjectCommand({ Bucket: "pool", Key, Body: Key }));
}

async function reportSnapshot(jobId: string) {
  const snapshot: Record<string, { etag: string; body: string }> = {};
  for (const [name, s3] of [
    ["a", a],
    ["b", b],
  ] as const) {
    const manifestKey = `JobReport/RestoreReports/job-${jobId}/manifest.json`;
    const manifest = JSON.parse(await readText(s3, "pool2", manifestKey));
    for (const key of [manifestKey, ...manifest.Results.map((r: { Key: string }) => r.Key)]) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: "pool2", Key: key }));
      snapshot[`${name}:${key}`] = { etag: head.ETag ?? "", body: await readText(s3, "pool2", key) };
    }
  }
  return snapshot;
}

async function queuesDrained(urls: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    let pending = 0;
    for (const QueueUrl of urls) {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
          ],
        }),
      );
      pending += Object.values(out.Attributes ?? {}).reduce((n, v) => n + Number(v), 0);
    }
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} messages still queued`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.each([
  ["the Node runtime", nodeRuntime],
  ["Deno", denoRuntime],
])("duplicate delivery on %s", (_, start) => {
  it("gives the same job and report when every message is delivered twice, during and after the run", async () => {
    // Prepare
    const proxy = await startDuplicatingProxy(emulators.control);
    cleanups.push(() => proxy.close());
    const under = await start(proxy.url);
    const manifest = await seedScenario(a, b, { manifestBody: MANIFEST, storageClass: "STANDARD" });
    for (const key of ["a1", "a2", "both1", SPACED_KEY]) await put(a, key);
    for (const key of ["b1", "b2", "b3", "both1"]) await put(b, key);

    // Act: the whole run with every message doubled
    const jobId = await createJob(
      under.control,
      createJobInput(manifest, { S3PutObjectTagging: { TagSet } }),
    );
    const job = await waitForJob(under.control, jobId, undefined, 120_000);
    await queuesDrained(under.queues);

    // Assess: exactly one report row per task, in manifest order
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 9,
      NumberOfTasksSucceeded: 7,
      NumberOfTasksFailed: 2,
    });
    const before = await reportSnapshot(jobId);
    const resultsKey = (s: string) => `a:JobReport/RestoreReports/job-${jobId}/results/${jobId}-${s}.csv`;
    expect(before[resultsKey("succeeded")]?.body.trim().split("\n")).toEqual(
      ["a1", "b1", "both1", encodeURIComponent(SPACED_KEY), "b2", "a2", "b3"].map(
        (k) => `pool,${k},,succeeded,200,,Successful`,
      ),
    );
    expect(
      before[resultsKey("failed")]?.body
        .trim()
        .split("\n")
        .map((l) => l.split(",").slice(0, 6).join(",")),
    ).toEqual(["pool,missing1,,failed,404,NoSuchKey", "pool,missing2,,failed,404,NoSuchKey"]);
    for (const s3 of [a, b]) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "both1" }));
      expect(tags.TagSet).toEqual(TagSet);
    }
    const shards = (await under.store.get<ShardList>(paths.shards({ accountId: ACCOUNT_ID, jobId })))?.value;
    expect(shards?.shards).toHaveLength(5);

    // Act: deliver every message of the run once more, after completion
    const ref = { accountId: ACCOUNT_ID, jobId };
    const jobBefore = await under.store.getBytes(paths.job(ref));
    const mine = proxy.sent.filter((m) => m.body.includes(jobId));
    expect(new Set(mine.map((m) => (JSON.parse(m.body) as { type: string }).type))).toEqual(
      new Set(["dispatch", "child", "poll", "merge"]),
    );
    for (const m of mine)
      await sqs.send(new SendMessageCommand({ QueueUrl: m.queueUrl, MessageBody: m.body }));
    await queuesDrained(under.queues);

    // Assess: nothing was rewritten
    const jobAfter = await under.store.getBytes(paths.job(ref));
    expect(jobAfter?.etag).toBe(jobBefore?.etag);
    expect(await reportSnapshot(jobId)).toEqual(before);
  }, 300_000);
});
