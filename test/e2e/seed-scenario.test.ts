// The seed scenario end to end: the real API, queues, functions and report, on two gateways.
import { GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { expectSeedOutcome, expectSeedReport, seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(async () => {
  await t?.stop();
});

describe("seed scenario", () => {
  it("restores obj1 on gateway A and obj2 on gateway B and reports missing-obj as NoSuchKey", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);

    // Act
    const jobId = await createJob(
      t.control,
      createJobInput(manifest, {
        S3InitiateRestoreObject: { ExpirationInDays: 123, GlacierJobTier: "STANDARD" },
      }),
    );
    const job = await waitForJob(t.control, jobId);

    // Assess
    expectSeedOutcome(job);
    await expectSeedReport(t.gatewayA, t.gatewayB, jobId);

    const obj1 = await t.gatewayA.send(new HeadObjectCommand({ Bucket: "pool", Key: "obj1" }));
    const obj2 = await t.gatewayB.send(new HeadObjectCommand({ Bucket: "pool", Key: "obj2" }));
    expect(obj1.Restore).toMatch(/ongoing-request/);
    expect(obj2.Restore).toMatch(/ongoing-request/);
  });

  it("tags obj1 on gateway A and obj2 on gateway B", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB, { storageClass: "STANDARD" });
    const TagSet = [
      { Key: "project", Value: "seed" },
      { Key: "tier", Value: "cold storage" },
    ];

    // Act
    const jobId = await createJob(t.control, createJobInput(manifest, { S3PutObjectTagging: { TagSet } }));
    const job = await waitForJob(t.control, jobId);

    // Assess
    expectSeedOutcome(job);
    const tagsA = await t.gatewayA.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "obj1" }));
    const tagsB = await t.gatewayB.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "obj2" }));
    expect(tagsA.TagSet).toEqual(TagSet);
    expect(tagsB.TagSet).toEqual(TagSet);
    await expectSeedReport(t.gatewayA, t.gatewayB, jobId);
  });
});
