import { GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gatewayClient, s3ControlClient } from "../helpers/clients.ts";
import { startDenoRuntime } from "../helpers/deno-runtime.ts";
import { deploymentEnv } from "../helpers/deployment.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { expectSeedOutcome, expectSeedReport, seedScenario } from "../helpers/seed.ts";

const emulators = inject("emulators");
const a = gatewayClient(emulators.gatewayA);
const b = gatewayClient(emulators.gatewayB);
let deno: Awaited<ReturnType<typeof startDenoRuntime>> | undefined;
let control: ReturnType<typeof s3ControlClient>;

beforeAll(async () => {
  const env = await deploymentEnv(emulators, 0, {}, "deno");
  deno = await startDenoRuntime(env);
  control = s3ControlClient(deno.url);
}, 240_000);

afterAll(() => {
  control?.destroy();
  deno?.stop();
  a.destroy();
  b.destroy();
});

describe("the local runtime under Deno", () => {
  it("restores obj1 on gateway A and obj2 on gateway B, and reports missing-obj", async () => {
    const manifest = await seedScenario(a, b);
    const jobId = await createJob(
      control,
      createJobInput(manifest, {
        S3InitiateRestoreObject: { ExpirationInDays: 5, GlacierJobTier: "STANDARD" },
      }),
    );
    expectSeedOutcome(await waitForJob(control, jobId, undefined, 120_000));
    await expectSeedReport(a, b, jobId);
    expect((await a.send(new HeadObjectCommand({ Bucket: "pool", Key: "obj1" }))).Restore).toMatch(
      /ongoing-request/,
    );
    expect((await b.send(new HeadObjectCommand({ Bucket: "pool", Key: "obj2" }))).Restore).toMatch(
      /ongoing-request/,
    );
  }, 180_000);

  it("tags obj1 on gateway A and obj2 on gateway B", async () => {
    const manifest = await seedScenario(a, b, { storageClass: "STANDARD" });
    const TagSet = [{ Key: "runtime", Value: "deno" }];
    const jobId = await createJob(control, createJobInput(manifest, { S3PutObjectTagging: { TagSet } }));
    expectSeedOutcome(await waitForJob(control, jobId, undefined, 120_000));
    await expectSeedReport(a, b, jobId);
    expect((await a.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "obj1" }))).TagSet).toEqual(
      TagSet,
    );
    expect((await b.send(new GetObjectTaggingCommand({ Bucket: "pool", Key: "obj2" }))).TagSet).toEqual(
      TagSet,
    );
  }, 180_000);
});
