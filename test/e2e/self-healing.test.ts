// Steps that cannot finish in one invocation, and steps that never finish: a shard that needs
// many time budgets completes exactly across handovers, with no message dead-lettered; a
// planning pass that runs out of budget mid-manifest resumes to the same plan; a child whose
// handler always throws is settled by the reconciler, and its job ends with the rows failed
// clearly, the FailureReason and the event log saying why.
import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, inject, it } from "vitest";
import { budgetOf } from "../../lib/budget.ts";
import type { ChildState } from "../../lib/children/state.ts";
import { createContext } from "../../lib/create-context.ts";
import { dispatchJob } from "../../lib/dispatch/dispatch.ts";
import { buildPlan, type Plan, type ShardList } from "../../lib/dispatch/plan.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import { ensureBucket, ensureQueues, queueEnv } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { ACCOUNT_ID, TEST_CREDENTIALS, TEST_ROLES } from "../helpers/clients.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { EVERY_OBJECT_EXISTS, mixedScenario, tagMismatches } from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { writeSyntheticJob } from "../helpers/synthetic-job.ts";

const runtimes: TestRuntime[] = [];
afterAll(async () => {
  for (const t of runtimes) await t.stop();
});

async function dlqDepth(t: TestRuntime): Promise<number> {
  let n = 0;
  for (const url of Object.values(t.runtime.ctx.settings.queues)) {
    const out = await t.runtime.ctx.queue.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: `${url}-dlq`,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    n += Object.values(out.Attributes ?? {}).reduce((a, v) => a + Number(v), 0);
  }
  return n;
}

describe("time budgets", () => {
  it("a shard that needs many budgets completes exactly across handovers, with no dead letter", async () => {
    // Prepare: 3-second invocations, 4 requests at a time per gateway, one 2,400-row shard
    const emulators = inject("emulators");
    const slow = JSON.parse(emulatedEndpoints(emulators, TEST_CREDENTIALS)).map((e: object) => ({
      ...e,
      maxConcurrency: 4,
    }));
    const t = await startTestRuntime({
      S3BATCH_ENDPOINTS: JSON.stringify(slow),
      S3BATCH_BUDGET_SECONDS: "3",
      S3BATCH_HANDOVER_MARGIN_SECONDS: "1",
      S3BATCH_SHARD_ROWS: "2400",
      S3BATCH_CHECKPOINT_ROWS: "50",
    });
    runtimes.push(t);
    const bucket = `budget-${randomUUID().slice(0, 8)}`;
    const s = await mixedScenario(t.gatewayA, t.gatewayB, bucket, 2400, EVERY_OBJECT_EXISTS);
    const TagSet = [{ Key: "budget", Value: "handed-over" }];

    // Act
    const { job, jobId, succeeded, failed } = await runReportedJob(
      t.control,
      t.gatewayA,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet } }),
      { timeoutMs: 180_000 },
    );

    // Assess
    expect(job.Status).toBe("Complete");
    expect(succeeded).toBe(s.expected.succeeded);
    expect(failed).toBe("");
    const ref = { accountId: ACCOUNT_ID, jobId };
    for (const endpoint of ["gateway-a", "gateway-b"]) {
      const state = (await t.runtime.ctx.store.get<ChildState>(paths.childState(ref, endpoint, 0)))?.value;
      expect(state?.status).toBe("done");
      // Each invocation ran at most one budget: the shard took several.
      expect(state?.attempts ?? 0).toBeGreaterThanOrEqual(3);
    }
    expect(
      await tagMismatches(
        t.gatewayA,
        t.gatewayB,
        s,
        TagSet,
        Array.from({ length: 2400 }, (_, i) => i),
      ),
    ).toEqual([]);
    expect(await dlqDepth(t)).toBe(0);
  }, 240_000);

  it("a manifest scan that runs out of budget resumes to the same plan", async () => {
    // Prepare: a 120,000-row manifest (several MB, many chunks), and queues nobody consumes
    const emulators = inject("emulators");
    const sqs = new SQSClient({ region: "us-east-1", endpoint: emulators.control });
    const queues = queueEnv(await ensureQueues(sqs, `d-${randomUUID().slice(0, 8)}`));
    sqs.destroy();
    const env = {
      AWS_ENDPOINT_URL: emulators.control,
      AWS_REGION: "us-east-1",
      S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
      S3BATCH_ROLES: TEST_ROLES,
      S3BATCH_INTERNAL_BUCKET: `s3batch-dispatch-${randomUUID().slice(0, 8)}`,
      S3BATCH_LOG_LEVEL: "warn",
      ...queues,
    };
    const ctx = createContext(loadSettings(env), "dispatch");
    await ensureBucket(ctx.store.s3, env.S3BATCH_INTERNAL_BUCKET);
    const home = ctx.gateways.get("gateway-a");
    const bucket = `plan-${randomUUID().slice(0, 8)}`;
    const ref = { accountId: ACCOUNT_ID, jobId: "resumable-scan" };
    const synthetic = await writeSyntheticJob(ctx, {
      ref,
      rows: 120_000,
      endpoints: ["gateway-a", "gateway-b"],
      home: "gateway-a",
      homeS3: home.s3,
      manifestBucket: bucket,
      reportBucket: bucket,
      shardRows: 10_000,
    });
    const job = (await jobGet(ctx.store, ref))?.value;
    if (!job?.request.Manifest) throw new Error("no synthetic job");
    job.request.Manifest.Location.ETag = synthetic.plan.manifest.etag;
    const whole = await buildPlan(ctx, job, new AbortController().signal, undefined);
    if ("handover" in whole || "sourceHandover" in whole) throw new Error("an unlimited budget handed over");
    // The same job as dispatch meets it: New, without a plan.
    await ctx.store.delete(paths.plan(ref));
    await ctx.store.delete(paths.shards(ref));
    await ctx.store.putBytes(
      paths.job(ref),
      JSON.stringify({
        ...job,
        status: "New",
        history: [{ status: "New", at: job.createdAt }],
        phaseTimes: {},
      }),
      "application/json",
    );

    // Act: every dispatch invocation starts with its budget spent
    let invocations = 0;
    while (!(await ctx.store.get<Plan>(paths.plan(ref)))) {
      await dispatchJob(ctx, { v: 1, type: "dispatch", ...ref }, budgetOf(0, ctx.settings));
      if (++invocations > 500) throw new Error("the scan never finished");
    }

    // Assess: many handovers, and the plan one pass makes
    expect(invocations).toBeGreaterThan(5);
    expect((await ctx.store.get<Plan>(paths.plan(ref)))?.value).toEqual(whole.plan);
    expect((await ctx.store.get<ShardList>(paths.shards(ref)))?.value).toEqual(whole.shards);
    ctx.gateways.destroy();
  }, 240_000);
});

describe("a poison child", () => {
  it("that always throws is dead-lettered, then settled; its job ends with those rows failed clearly", async () => {
    // Prepare: one receive before the DLQ, two dead letters before a child is given up
    const t = await startTestRuntime(
      { S3BATCH_MAX_ATTEMPTS: "2", S3BATCH_SHARD_ROWS: "100" },
      {
        maxReceiveCount: 1,
        wrap: (queue, handler) =>
          queue !== "child"
            ? handler
            : async (event, invocation) => {
                if (event.Records.some((r) => /"shard":1,"endpointId":"gateway-a"/.test(r.body)))
                  throw new Error("injected: the child crashes on shard 1 of gateway-a");
                return handler(event, invocation);
              },
      },
    );
    runtimes.push(t);
    const bucket = `poison-${randomUUID().slice(0, 8)}`;
    const s = await mixedScenario(t.gatewayA, t.gatewayB, bucket, 300, EVERY_OBJECT_EXISTS);

    // Act
    const started = Date.now();
    const { job, jobId, succeeded, failed } = await runReportedJob(
      t.control,
      t.gatewayA,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet: [{ Key: "p", Value: "x" }] } }),
      { timeoutMs: 120_000 },
    );

    // Assess: rows 100-199 (shard 1) failed, naming gateway-a and why; the rest ran
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(job.Status).toBe("Complete");
    const failedRows = failed.trim().split("\n");
    expect(failedRows).toHaveLength(100);
    for (const [n, line] of failedRows.entries())
      expect(line).toMatch(
        new RegExp(
          `^${bucket},k/${String(100 + n).padStart(8, "0")},,failed,500,AttemptsExhausted,` +
            `endpoint gateway-a: the message of shard 1 reached the dead-letter queue 2 times \\(\\d+ receives the last time\\)$`,
        ),
      );
    expect(succeeded.trim().split("\n")).toHaveLength(200);
    expect(job.FailureReasons).toContainEqual({
      FailureCode: "AttemptsExhausted",
      FailureReason: expect.stringMatching(
        /^endpoint gateway-a: 1 shard not completed; last: the message of shard 1/,
      ),
    });
    const events: string[] = [];
    const { store } = t.runtime.ctx;
    for await (const key of store.list(paths.events({ accountId: ACCOUNT_ID, jobId })))
      events.push((await store.get<{ type: string }>(key))?.value.type ?? "");
    expect(events).toContain("child-exhausted");
    expect(events.filter((e) => e === "dead-letter").length).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
