// The whole pipeline under Deno: the API, the four queue loops (and the dead-letter loops) and the
// same handlers as on Node, in a Deno process, run the seed scenario.
import { randomUUID } from "node:crypto";
import { GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureQueues, queueEnv } from "../../lib/provision.ts";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient, TEST_CREDENTIALS } from "../helpers/clients.ts";
import { startDenoRuntime } from "../helpers/deno-runtime.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { expectSeedOutcome, expectSeedReport, seedScenario } from "../helpers/seed.ts";

const emulators = inject("emulators");
const a = gatewayClient(emulators.gatewayA);
const b = gatewayClient(emulators.gatewayB);
let deno: Awaited<ReturnType<typeof startDenoRuntime>> | undefined;
let control: ReturnType<typeof s3ControlClient>;

beforeAll(async () => {
  const id = randomUUID().slice(0, 8);
  const sqs = new SQSClient({
    region: "us-east-1",
    endpoint: emulators.control,
    credentials: TEST_CREDENTIALS,
  });
  const env = {
    AWS_ENDPOINT_URL: emulators.control,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
    S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
    S3BATCH_INTERNAL_BUCKET: `s3batch-deno-${id}`,
    S3BATCH_PORT: "0",
    S3BATCH_POLL_DELAY_SECONDS: "1",
    S3BATCH_LOG_LEVEL: "warn",
    ...queueEnv(await ensureQueues(sqs, `deno-${id}`)),
  };
  sqs.destroy();
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
