// Gateways that misbehave without going away: real proxies in front of them answer gateway A's
// requests beyond 100 a second with 503 SlowDown (as a gateway's rate limit does) and reset 5% of
// gateway B's connections mid-request.
// Throttling and resets are retried under the policy, never counted: each job ends Complete with
// no failed task, and its effects are all there.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import {
  EVERY_OBJECT_EXISTS,
  keyOf,
  type MixedScenario,
  mixedScenario,
  tagMismatches,
} from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

let t: TestRuntime;
let slowA: FaultProxy;
let resetB: FaultProxy;
let s: MixedScenario;
const bucket = `fault-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  const emulators = inject("emulators");
  slowA = await startFaultProxy(emulators.gatewayA);
  resetB = await startFaultProxy(emulators.gatewayB);
  t = await startTestRuntime(
    { S3BATCH_CHECKPOINT_ROWS: "100" },
    { endpoints: { gatewayA: slowA.url, gatewayB: resetB.url } },
  );
  // The objects are written straight to the gateways; the faults start with the jobs.
  s = await mixedScenario(t.gatewayA, t.gatewayB, bucket, 2000, EVERY_OBJECT_EXISTS);
  slowA.rateLimit = 100;
  resetB.resetRate = 0.05;
}, 240_000);
afterAll(async () => {
  await t?.stop();
  await slowA?.close();
  await resetB?.close();
});

describe("fault injection", () => {
  it("a tagging job over a throttling gateway and a resetting one ends Complete with 0 failed tasks", async () => {
    // Act
    const TagSet = [{ Key: "faults", Value: "retried" }];
    const before = { slowDowns: slowA.stats.slowDowns, resets: resetB.stats.resets };
    const { job, succeeded, failed } = await runReportedJob(
      t.control,
      t.gatewayA,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet } }),
      { timeoutMs: 180_000 },
    );

    // Assess
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({ TotalNumberOfTasks: 2000, NumberOfTasksFailed: 0 });
    expect(failed).toBe("");
    expect(succeeded).toBe(s.expected.succeeded);
    const sample = Array.from({ length: 2000 }, (_, i) => i);
    expect(await tagMismatches(t.gatewayA, t.gatewayB, s, TagSet, sample)).toEqual([]);
    // The faults really happened, by the hundred.
    expect(slowA.stats.slowDowns - before.slowDowns).toBeGreaterThan(100);
    expect(resetB.stats.resets - before.resets).toBeGreaterThan(20);
  }, 240_000);

  it("a copy job streaming from the throttling gateway to the resetting one ends Complete with 0 failed tasks", async () => {
    // Prepare: the target bucket is only on B, so objects on A stream across both proxies
    const target = `fault-copies-${randomUUID().slice(0, 8)}`;
    await t.gatewayB.send(new CreateBucketCommand({ Bucket: target }));

    // Act
    const { job } = await runReportedJob(
      t.control,
      t.gatewayA,
      bucket,
      createJobInput(s.manifest, {
        S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${target}`, TargetKeyPrefix: "c/" },
      }),
      { timeoutMs: 180_000 },
    );

    // Assess
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({ TotalNumberOfTasks: 2000, NumberOfTasksFailed: 0 });
    for (const i of [0, 1, 2, 3, 500, 1001, 1999]) {
      const got = await t.gatewayB.send(new GetObjectCommand({ Bucket: target, Key: `c/${keyOf(i)}` }));
      expect(await got.Body?.transformToString()).toBe(keyOf(i));
    }
  }, 240_000);
});
