// Work longer than an invocation hands over, and small gateway budgets do not deadlock.
//   - A 96 MiB object copied from gateway A to gateway B with one-second invocations: the copy's
//     multipart upload spans several invocations (each resumes it from the parts the gateway
//     lists), the copy equals its source byte for byte, and no upload is left open anywhere.
//   - A ManifestGenerator over 100,000 keys (half on each gateway), and an inventory of six data
//     files, planned by dispatch invocations that each start with their budget spent: both hand
//     over many times and produce the manifest one pass produces, the generator's written-out
//     copy (one csv.gz per invocation) included.
//   - S3ReplicateObject of 20 MiB objects from A to B and from B to A at once, with both
//     gateways' budgets at 2 requests in flight: the job completes, nothing fails, every replica
//     equals its source.
import { createHash, randomUUID } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { budgetOf } from "../../lib/budget.ts";
import type { ChildState } from "../../lib/children/state.ts";
import type { Context } from "../../lib/context.ts";
import { createContext } from "../../lib/create-context.ts";
import { dispatchJob } from "../../lib/dispatch/dispatch.ts";
import type { Plan } from "../../lib/dispatch/plan.ts";
import type { JobRecord } from "../../lib/jobs/model.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { ensureBucket, ensureQueues, queueEnv } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID, ROLE_ARN, TEST_CREDENTIALS, TEST_ROLES } from "../helpers/clients.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const MiB = 1024 * 1024;

async function md5Of(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash("md5");
  for await (const chunk of out.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest("hex");
}

async function putRandom(s3: S3Client, bucket: string, key: string, size: number) {
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536)
    body.set(crypto.getRandomValues(new Uint8Array(Math.min(65536, size - i))), i);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

const openUploads = async (s3: S3Client, bucket: string) =>
  (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

describe("a cross-gateway copy longer than an invocation", () => {
  let t: TestRuntime;
  beforeAll(async () => {
    // One-second invocations: a copy of this size cannot finish in one.
    t = await startTestRuntime({ S3BATCH_BUDGET_SECONDS: "1", S3BATCH_HANDOVER_MARGIN_SECONDS: "1" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("resumes its upload in the next invocation and ends exact, with no upload left open", async () => {
    // Prepare: a 96 MiB object on A; the target bucket on B only
    const id = randomUUID().slice(0, 8);
    const [source, target] = [`lc-src-${id}`, `lc-dst-${id}`];
    await t.gatewayA.send(new CreateBucketCommand({ Bucket: source }));
    await t.gatewayB.send(new CreateBucketCommand({ Bucket: target }));
    await putRandom(t.gatewayA, source, "big.bin", 96 * MiB);
    const manifest = await t.gatewayA.send(
      new PutObjectCommand({ Bucket: source, Key: "m.csv", Body: `${source},big.bin\n` }),
    );

    // Act
    const done = await runReportedJob(
      t.control,
      t.gatewayA,
      source,
      createJobInput(
        { arn: `arn:aws:s3:::${source}/m.csv`, etag: manifest.ETag ?? "" },
        { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${target}` } },
      ),
      { timeoutMs: 300_000 },
    );

    // Assess: several invocations, one exact copy, nothing open
    const child = await t.runtime.ctx.store.get<ChildState>(
      paths.childState({ accountId: ACCOUNT_ID, jobId: done.jobId }, "gateway-a", 0),
    );
    expect(done.job.Status).toBe("Complete");
    expect(done.job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 1, NumberOfTasksFailed: 0 });
    expect(child?.value.attempts).toBeGreaterThan(1);
    expect(await md5Of(t.gatewayB, target, "big.bin")).toBe(await md5Of(t.gatewayA, source, "big.bin"));
    expect(await openUploads(t.gatewayB, target)).toEqual([]);
    expect(await openUploads(t.gatewayA, source)).toEqual([]);
  }, 360_000);
});

describe("planning longer than an invocation", () => {
  let ctx: Context;
  const emulators = inject("emulators");
  beforeAll(async () => {
    const sqs = new SQSClient({
      region: "us-east-1",
      endpoint: emulators.control,
      credentials: TEST_CREDENTIALS,
    });
    const queues = queueEnv(await ensureQueues(sqs, `pl-${randomUUID().slice(0, 8)}`));
    sqs.destroy();
    ctx = createContext(
      loadSettings({
        AWS_ENDPOINT_URL: emulators.control,
        AWS_REGION: "us-east-1",
        S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
        S3BATCH_ROLES: TEST_ROLES,
        S3BATCH_INTERNAL_BUCKET: `s3batch-plan-${randomUUID().slice(0, 8)}`,
        S3BATCH_REPORT_PART_BYTES: String(5 * MiB),
        S3BATCH_LOG_LEVEL: "warn",
        ...queues,
      }),
      "dispatch",
    );
    await ensureBucket(ctx.store.s3, ctx.settings.internalBucket);
  });
  afterAll(() => ctx?.gateways.destroy());

  /** A New job record, as CreateJob writes it. */
  async function newJob(jobId: string, request: Partial<JobRecord["request"]>) {
    const now = new Date().toISOString();
    const record: JobRecord = {
      schema: 1,
      accountId: ACCOUNT_ID,
      jobId,
      status: "New",
      request: {
        ConfirmationRequired: true,
        Operation: { S3PutObjectTagging: { TagSet: [] } },
        Report: { Enabled: false },
        Priority: 10,
        RoleArn: ROLE_ARN,
        ...request,
      },
      priority: 10,
      tags: [],
      createdAt: now,
      phaseTimes: { New: now },
      history: [{ status: "New", at: now }],
      progress: { total: 0, succeeded: 0, failed: 0 },
      failureReasons: [],
    };
    await ctx.store.putBytes(
      paths.job({ accountId: ACCOUNT_ID, jobId }),
      JSON.stringify(record),
      "application/json",
    );
    return { accountId: ACCOUNT_ID, jobId };
  }

  /** Dispatch invocations that each start with their budget spent, until the plan exists. */
  async function planWithSpentBudgets(ref: { accountId: string; jobId: string }): Promise<number> {
    let invocations = 0;
    while (!(await ctx.store.get<Plan>(paths.plan(ref)))) {
      await dispatchJob(ctx, { v: 1, type: "dispatch", ...ref }, budgetOf(0, ctx.settings));
      if (++invocations > 1000) throw new Error("planning never finished");
    }
    return invocations;
  }

  it("lists a generator's 100,000 keys across many invocations, to the manifest one pass writes", async () => {
    // Prepare: 100,000 keys, half on each gateway
    const id = randomUUID().slice(0, 8);
    const [bucket, out] = [`gen-${id}`, `genout-${id}`];
    const a = ctx.gateways.get("gateway-a").s3;
    const b = ctx.gateways.get("gateway-b").s3;
    for (const s3 of [a, b]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await a.send(new CreateBucketCommand({ Bucket: out }));
    const keys = Array.from({ length: 100_000 }, (_, i) => `k/${String(i).padStart(6, "0")}`);
    const limits = [pLimit(32), pLimit(32)];
    const empty = new Uint8Array(0);
    await Promise.all(
      keys.map((Key, i) =>
        limits[i % 2]?.(() =>
          (i % 2 ? b : a).send(new PutObjectCommand({ Bucket: bucket, Key, Body: empty })),
        ),
      ),
    );
    const ref = await newJob(`gen-${id}`, {
      ManifestGenerator: {
        S3JobManifestGenerator: {
          SourceBucket: `arn:aws:s3:::${bucket}`,
          EnableManifestOutput: true,
          ManifestOutputLocation: {
            Bucket: `arn:aws:s3:::${out}`,
            ManifestFormat: "S3InventoryReport_CSV_20211130",
          },
        },
      },
    });

    // Act
    const invocations = await planWithSpentBudgets(ref);

    // Assess: many handovers; every key once, in order; the written-out copy equals it
    const plan = (await ctx.store.get<Plan>(paths.plan(ref)))?.value;
    const manifest = await ctx.store.getBytes(paths.normalizedManifest(ref));
    const expected = keys.map((k) => `${bucket},${k}\n`).join("");
    expect(invocations).toBeGreaterThan(10);
    expect(plan?.totalRows).toBe(100_000);
    expect(new TextDecoder().decode(manifest?.body)).toBe(expected);
    const job = (await ctx.store.get<JobRecord>(paths.job(ref)))?.value;
    const location = job?.generatedManifest?.Location.ObjectArn.replace(`arn:aws:s3:::${out}/`, "") ?? "";
    const written = JSON.parse(await readText(a, out, location)) as { files: { key: string }[] };
    expect(written.files.length).toBeGreaterThan(1);
    let copy = "";
    for (const f of written.files) {
      const got = await a.send(new GetObjectCommand({ Bucket: out, Key: f.key }));
      copy += gunzipSync((await got.Body?.transformToByteArray()) ?? new Uint8Array()).toString();
    }
    expect(copy).toBe(expected);
  }, 420_000);

  it("normalizes an inventory of six data files across invocations, a file at a time", async () => {
    // Prepare: six gzipped data files of 500 rows
    const id = randomUUID().slice(0, 8);
    const bucket = `inv-${id}`;
    const a = ctx.gateways.get("gateway-a").s3;
    await a.send(new CreateBucketCommand({ Bucket: bucket }));
    const files = [];
    let expected = "";
    for (let f = 0; f < 6; f++) {
      const csv = Array.from({ length: 500 }, (_, i) => `"${bucket}","d/${f}/${i}"\n`).join("");
      expected += Array.from({ length: 500 }, (_, i) => `${bucket},d/${f}/${i}\n`).join("");
      const body = gzipSync(csv);
      const key = `inventory/data/${f}.csv.gz`;
      await a.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      files.push({ key, size: body.length, MD5checksum: createHash("md5").update(body).digest("hex") });
    }
    const doc = {
      sourceBucket: bucket,
      destinationBucket: `arn:aws:s3:::${bucket}`,
      fileFormat: "CSV",
      fileSchema: "Bucket, Key",
      files,
    };
    const put = await a.send(
      new PutObjectCommand({ Bucket: bucket, Key: "inventory/manifest.json", Body: JSON.stringify(doc) }),
    );
    const head = await a.send(new HeadObjectCommand({ Bucket: bucket, Key: "inventory/manifest.json" }));
    const ref = await newJob(`inv-${id}`, {
      Manifest: {
        Spec: { Format: "S3InventoryReport_CSV_20161130" },
        Location: {
          ObjectArn: `arn:aws:s3:::${bucket}/inventory/manifest.json`,
          ETag: (put.ETag ?? head.ETag ?? "").replaceAll('"', ""),
        },
      },
    });

    // Act
    const invocations = await planWithSpentBudgets(ref);

    // Assess
    const manifest = await ctx.store.getBytes(paths.normalizedManifest(ref));
    expect(invocations).toBeGreaterThanOrEqual(6);
    expect(new TextDecoder().decode(manifest?.body)).toBe(expected);
    expect((await ctx.store.get<Plan>(paths.plan(ref)))?.value.totalRows).toBe(3000);
  }, 120_000);
});

describe("replication both ways with two requests in flight per gateway", () => {
  let t: TestRuntime;
  beforeAll(async () => {
    const slow = JSON.parse(emulatedEndpoints(inject("emulators"), TEST_CREDENTIALS)).map((e: object) => ({
      ...e,
      maxConcurrency: 2,
    }));
    t = await startTestRuntime({ S3BATCH_ENDPOINTS: JSON.stringify(slow) });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("completes with nothing failed and every replica equal to its source", async () => {
    // Prepare: 20 MiB objects, three on A only and three on B only, in a bucket both hold
    const bucket = `repl-${randomUUID().slice(0, 8)}`;
    for (const s3 of [t.gatewayA, t.gatewayB]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const onA = ["a/0", "a/1", "a/2"];
    const onB = ["b/0", "b/1", "b/2"];
    await Promise.all([
      ...onA.map((k) => putRandom(t.gatewayA, bucket, k, 20 * MiB)),
      ...onB.map((k) => putRandom(t.gatewayB, bucket, k, 20 * MiB)),
    ]);
    const body = [...onA, ...onB].map((k) => `${bucket},${k}\n`).join("");
    const manifest = await t.gatewayA.send(
      new PutObjectCommand({ Bucket: bucket, Key: "m.csv", Body: body }),
    );

    // Act
    const done = await runReportedJob(
      t.control,
      t.gatewayA,
      bucket,
      createJobInput(
        { arn: `arn:aws:s3:::${bucket}/m.csv`, etag: manifest.ETag ?? "" },
        { S3ReplicateObject: {} },
      ),
      { timeoutMs: 300_000 },
    );

    // Assess
    expect(done.job.Status).toBe("Complete");
    expect(done.job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 6, NumberOfTasksFailed: 0 });
    for (const k of [...onA, ...onB])
      expect(await md5Of(t.gatewayB, bucket, k), k).toBe(await md5Of(t.gatewayA, bucket, k));
    for (const s3 of [t.gatewayA, t.gatewayB]) expect(await openUploads(s3, bucket)).toEqual([]);
  }, 360_000);
});
