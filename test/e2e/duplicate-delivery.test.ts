// SQS delivers at least once. Every pipeline message delivered twice (during the run, and
// again after the job completed) must leave the job and its report exactly as one delivery does.
import {
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paths } from "../../lib/jobs/paths.ts";
import type { ShardList } from "../../lib/jobs/plan.ts";
import type { PipelineMessage } from "../../lib/queue/messages.ts";
import { readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
beforeAll(async () => {
  // Two rows per shard and a checkpoint after every row: many children, many checkpoints.
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "2", S3BATCH_CHECKPOINT_ROWS: "1" });
});
afterAll(async () => {
  await t?.stop();
});

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
    ["a", t.gatewayA],
    ["b", t.gatewayB],
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

async function queuesDrained(): Promise<void> {
  const deadline = Date.now() + 60_000;
  const urls = Object.values(t.runtime.ctx.settings.queues);
  for (;;) {
    let pending = 0;
    for (const QueueUrl of urls) {
      const out = await t.runtime.ctx.queue.sqs.send(
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

describe("duplicate delivery", () => {
  it("gives the same job and report when every message is delivered twice, during and after the run", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB, {
      manifestBody: MANIFEST,
      storageClass: "STANDARD",
    });
    for (const key of ["a1", "a2", "both1", SPACED_KEY]) await put(t.gatewayA, key);
    for (const key of ["b1", "b2", "b3", "both1"]) await put(t.gatewayB, key);
    const queue = t.runtime.ctx.queue;
    const sent: PipelineMessage[] = [];
    const { send, sendAll } = { send: queue.send.bind(queue), sendAll: queue.sendAll.bind(queue) };
    queue.send = async (m, delay) => {
      sent.push(m);
      await Promise.all([send(m, delay), send(m, delay)]);
    };
    queue.sendAll = async (ms) => {
      sent.push(...ms);
      await sendAll([...ms, ...ms]);
    };

    // Act: the whole run with every message doubled
    const jobId = await createJob(t.control, createJobInput(manifest, { S3PutObjectTagging: { TagSet } }));
    const job = await waitForJob(t.control, jobId);
    await queuesDrained();
    queue.send = send;
    queue.sendAll = sendAll;

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
    for (const s3 of [t.gatewayA, t.gatewayB]) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "both1" }));
      expect(tags.TagSet).toEqual(TagSet);
    }
    const plan = (await t.runtime.ctx.store.get<ShardList>(paths.shards({ accountId: ACCOUNT_ID, jobId })))
      ?.value;
    expect(plan?.shards).toHaveLength(5);

    // Act: deliver every kind of message once more after completion
    const jobBefore = await t.runtime.ctx.store.getBytes(paths.job({ accountId: ACCOUNT_ID, jobId }));
    const kinds = new Set(sent.map((m) => m.type));
    expect(kinds).toEqual(new Set(["dispatch", "child", "poll", "merge"]));
    await queue.sendAll(sent);
    await queuesDrained();

    // Assess: nothing was rewritten
    const jobAfter = await t.runtime.ctx.store.getBytes(paths.job({ accountId: ACCOUNT_ID, jobId }));
    expect(jobAfter?.etag).toBe(jobBefore?.etag);
    expect(await reportSnapshot(jobId)).toEqual(before);
  });
});
