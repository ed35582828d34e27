// The artifact that would be deployed runs the seed job: the five zips `osls package` writes,
// each function in its own process through its template entry's handler string and environment
// (local values where the template names AWS resources), driven by Lambda-shaped events that
// Powertools' schemas validate: API Gateway HTTP API (payload 2.0) requests for `api`, SQS
// batches of the template's batch size, with partial-batch responses honoured, for the others.
// Then the same scenario again with every message delivered twice.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, PutBucketLifecycleConfigurationCommand, S3Client } from "@aws-sdk/client-s3";
import { S3ControlClient } from "@aws-sdk/client-s3-control";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gatewayClient, TEST_CREDENTIALS } from "../helpers/clients.ts";
import { deploymentParameters } from "../helpers/deployment.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import {
  apiGatewayHandler,
  createTemplateQueues,
  type LambdaHost,
  type Locals,
  packaged,
  SqsEventSource,
  startFunctions,
  type Template,
} from "../helpers/lambda-harness.ts";
import { expectSeedOutcome, expectSeedReport, seedScenario } from "../helpers/seed.ts";

const emulators = inject("emulators");
const sqs = new SQSClient({
  region: "us-east-1",
  endpoint: emulators.control,
  credentials: TEST_CREDENTIALS,
});
const a = gatewayClient(emulators.gatewayA);
const b = gatewayClient(emulators.gatewayB);
let template: Template;
let hosts: Map<string, LambdaHost>;
const sources: SqsEventSource[] = [];
let duplicate = false;
let control: S3ControlClient;

/** Creates locally what the template creates on AWS: the internal bucket and the queues. */
async function localResources(t: Template): Promise<Locals> {
  const id = randomUUID().slice(0, 8);
  const locals: Locals = {
    refs: {},
    arns: {},
    partition: "aws",
    region: "us-east-1",
    accountId: "000000000000",
  };
  const s3 = new S3Client({
    region: "us-east-1",
    endpoint: emulators.control,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
  });
  const bucket = `s3batch-bundle-${id}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const rules = t.Resources.InternalBucket?.Properties.LifecycleConfiguration.Rules;
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: rules.map(
          (r: {
            Id: string;
            Status: "Enabled";
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: number };
          }) => ({
            ID: r.Id,
            Status: r.Status,
            Filter: { Prefix: "" },
            AbortIncompleteMultipartUpload: r.AbortIncompleteMultipartUpload,
          }),
        ),
      },
    }),
  );
  locals.refs.InternalBucket = bucket;
  locals.arns.InternalBucket = `arn:aws:s3:::${bucket}`;
  await createTemplateQueues(sqs, t, locals, `b-${id}`, (props) =>
    Object.fromEntries(
      Object.entries(props).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]),
    ),
  );
  s3.destroy();
  return locals;
}

beforeAll(async () => {
  template = packaged();
  const locals = await localResources(template);
  // Deploy parameters, given local values.
  hosts = await startFunctions(template, locals, deploymentParameters(emulators));
  for (const [, m] of Object.entries(template.Resources).filter(
    ([, r]) => r.Type === "AWS::Lambda::EventSourceMapping",
  )) {
    const fn = m.Properties.FunctionName["Fn::GetAtt"][0];
    const queue = m.Properties.EventSourceArn["Fn::GetAtt"][0];
    const host = hosts.get(fn);
    if (!host) throw new Error(`no function ${fn}`);
    const source = new SqsEventSource(sqs, host, {
      queueUrl: locals.refs[queue] ?? "",
      queueArn: locals.arns[queue] ?? "",
      batchSize: m.Properties.BatchSize,
      concurrency: fn === "ChildLambdaFunction" ? 4 : 1,
      duplicate: () => duplicate,
      remainingMs: (template.Resources[fn]?.Properties.Timeout ?? 30) * 1000,
    });
    source.start();
    sources.push(source);
  }
  const api = hosts.get("ApiLambdaFunction");
  if (!api) throw new Error("no api function");
  control = new S3ControlClient({
    region: "us-east-1",
    endpoint: "https://s3batch.execute-api.us-east-1.amazonaws.com",
    credentials: TEST_CREDENTIALS,
    requestHandler: apiGatewayHandler(api),
  });
}, 240_000);

afterAll(async () => {
  await Promise.all(sources.map((s) => s.stop()));
  for (const h of hosts?.values() ?? []) h.stop();
  control?.destroy();
  for (const c of [sqs, a, b]) c.destroy();
});

describe("the packaged artifact", () => {
  it("runs the seed restore job through the five functions, on Lambda-shaped events", async () => {
    // Prepare
    const manifest = await seedScenario(a, b);

    // Act
    const jobId = await createJob(
      control,
      createJobInput(manifest, { S3InitiateRestoreObject: { ExpirationInDays: 2, GlacierJobTier: "BULK" } }),
    );
    const job = await waitForJob(control, jobId, undefined, 120_000);

    // Assess
    expectSeedOutcome(job);
    await expectSeedReport(a, b, jobId);
    for (const name of [
      "ApiLambdaFunction",
      "DispatchLambdaFunction",
      "ChildLambdaFunction",
      "PollLambdaFunction",
      "MergeLambdaFunction",
    ])
      expect(hosts.get(name)?.invocations ?? 0, name).toBeGreaterThan(0);
  }, 180_000);

  it("runs it again exactly with every message delivered twice", async () => {
    // Prepare
    const manifest = await seedScenario(a, b);
    duplicate = true;

    // Act
    const jobId = await createJob(
      control,
      createJobInput(manifest, {
        S3InitiateRestoreObject: { ExpirationInDays: 2, GlacierJobTier: "STANDARD" },
      }),
    );
    const job = await waitForJob(control, jobId, undefined, 120_000);
    duplicate = false;

    // Assess
    expectSeedOutcome(job);
    await expectSeedReport(a, b, jobId);
  }, 180_000);
});
