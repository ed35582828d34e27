// The operations matrix on a third make of gateway: Versity's S3 gateway (versitygw) over a POSIX
// directory, built and started by localstack/ (S3BATCH_THIRD_GATEWAY=1). Every operation runs on
// objects versitygw holds, next to LocalStack as a second gateway. Where versitygw supports an
// operation its effect is checked; where it does not, the task fails with the gateway's own code,
// as docs/operations.md's support table says. Run: npm run test:gateways.

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { CreateJobCommandInput } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_CREDENTIALS } from "../helpers/clients.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const FN = "arn:aws:lambda:us-east-1:123456789012:function:echo";
let t: TestRuntime;
let c: S3Client;
let fn: Server;
const BUCKET = `vgw-${randomUUID().slice(0, 8)}`;
const LOCKED = `vgw-lock-${randomUUID().slice(0, 8)}`;
const TARGET = `vgw-target-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  const emulators = inject("emulators");
  if (!emulators.gatewayC) throw new Error("versitygw is not running: run with S3BATCH_THIRD_GATEWAY=1");
  fn = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString());
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        invocationSchemaVersion: body.invocationSchemaVersion,
        treatMissingKeysAs: "PermanentFailure",
        invocationId: body.invocationId,
        results: [
          {
            taskId: body.tasks[0].taskId,
            resultCode: "Succeeded",
            resultString: `saw ${body.tasks[0].s3Key}`,
          },
        ],
      }),
    );
  });
  await new Promise<void>((r) => fn.listen(0, "127.0.0.1", () => r()));
  const address = fn.address();
  const fnUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`;
  t = await startTestRuntime({
    S3BATCH_ENDPOINTS: JSON.stringify([
      { id: "gateway-c", url: emulators.gatewayC, credentials: TEST_CREDENTIALS },
      { id: "gateway-a", url: emulators.gatewayA, credentials: TEST_CREDENTIALS },
    ]),
    S3BATCH_LAMBDA_FUNCTIONS: JSON.stringify({ [FN]: fnUrl }),
  });
  c = new S3Client({
    region: "us-east-1",
    endpoint: emulators.gatewayC,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  await c.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await c.send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }));
  await t.gatewayA.send(new CreateBucketCommand({ Bucket: TARGET }));
  await t.gatewayA.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 300_000);

afterAll(async () => {
  c?.destroy();
  fn?.close();
  await t?.stop();
});

/** Runs `operation` over one object versitygw holds in `bucket`; returns its report row. */
async function runOn(bucket: string, operation: CreateJobCommandInput["Operation"]) {
  const key = `obj-${randomUUID().slice(0, 8)}`;
  await c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `content of ${key}` }));
  await c.send(
    new PutObjectTaggingCommand({
      Bucket: bucket,
      Key: key,
      Tagging: { TagSet: [{ Key: "before", Value: "1" }] },
    }),
  );
  const manifest = await c.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${key}.csv`, Body: `${bucket},${key}` }),
  );
  const r = await runReportedJob(
    t.control,
    c,
    bucket,
    createJobInput({ arn: `arn:aws:s3:::${bucket}/${key}.csv`, etag: manifest.ETag ?? "" }, operation),
    { timeoutMs: 120_000 },
  );
  const line = (r.succeeded || r.failed).trim();
  const [, , , status, http, code] = line.split(",");
  return { key, status, http, code, line, job: r.job };
}

/** What versitygw v1.8.0 does with each operation: "yes", or the error code its tasks fail with. */
const SUPPORT: Record<string, string> = {
  S3PutObjectTagging: "yes",
  S3DeleteObjectTagging: "yes",
  S3PutObjectAcl: "NotImplemented",
  S3InitiateRestoreObject: "NotImplemented",
  S3PutObjectRetention: "yes",
  S3PutObjectLegalHold: "yes",
  // versitygw ignores the SSE-KMS headers, so the copy onto itself changes nothing and is refused.
  S3UpdateObjectEncryption: "InvalidRequest",
  S3PutObjectCopy: "yes",
  S3ComputeObjectChecksum: "yes",
  LambdaInvoke: "yes",
  S3ReplicateObject: "yes",
};

const expectOutcome = (op: string, got: { status?: string; code?: string; line: string }) => {
  const want = SUPPORT[op];
  if (want === "yes") expect(got.status, got.line).toBe("succeeded");
  else {
    expect(got.status, got.line).toBe("failed");
    expect(got.code, got.line).toBe(want);
  }
};

describe("versitygw, a third make of gateway", () => {
  it("S3PutObjectTagging and S3DeleteObjectTagging", async () => {
    const put = await runOn(BUCKET, { S3PutObjectTagging: { TagSet: [{ Key: "vgw", Value: "tagged" }] } });
    expectOutcome("S3PutObjectTagging", put);
    expect((await c.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: put.key }))).TagSet).toEqual([
      { Key: "vgw", Value: "tagged" },
    ]);
    const del = await runOn(BUCKET, { S3DeleteObjectTagging: {} });
    expectOutcome("S3DeleteObjectTagging", del);
    expect(
      (await c.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: del.key }))).TagSet ?? [],
    ).toEqual([]);
  });

  it("S3PutObjectAcl and S3InitiateRestoreObject fail with the gateway's own code", async () => {
    expectOutcome(
      "S3PutObjectAcl",
      await runOn(BUCKET, {
        S3PutObjectAcl: { AccessControlPolicy: { CannedAccessControlList: "private" } },
      }),
    );
    expectOutcome(
      "S3InitiateRestoreObject",
      await runOn(BUCKET, { S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "STANDARD" } }),
    );
  });

  it("S3PutObjectRetention and S3PutObjectLegalHold on an object-lock bucket", async () => {
    const until = new Date(Date.now() + 86_400_000);
    const ret = await runOn(LOCKED, {
      S3PutObjectRetention: { Retention: { Mode: "GOVERNANCE", RetainUntilDate: until } },
    });
    expectOutcome("S3PutObjectRetention", ret);
    const head = await c.send(new HeadObjectCommand({ Bucket: LOCKED, Key: ret.key }));
    expect(head.ObjectLockMode).toBe("GOVERNANCE");
    const hold = await runOn(LOCKED, { S3PutObjectLegalHold: { LegalHold: { Status: "ON" } } });
    expectOutcome("S3PutObjectLegalHold", hold);
    expect(
      (await c.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: hold.key }))).LegalHold?.Status,
    ).toBe("ON");
  });

  it("S3UpdateObjectEncryption", async () => {
    expectOutcome(
      "S3UpdateObjectEncryption",
      await runOn(BUCKET, {
        S3UpdateObjectEncryption: {
          ObjectEncryption: { SSEKMS: { KMSKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k" } },
        },
      } as CreateJobCommandInput["Operation"]),
    );
  });

  it("S3PutObjectCopy within versitygw and across to LocalStack", async () => {
    const within = await runOn(BUCKET, {
      S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${BUCKET}`, TargetKeyPrefix: "copy/" },
    });
    expectOutcome("S3PutObjectCopy", within);
    const got = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: `copy/${within.key}` }));
    expect(await got.Body?.transformToString()).toBe(`content of ${within.key}`);
    const across = await runOn(BUCKET, { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${TARGET}` } });
    expectOutcome("S3PutObjectCopy", across);
    const there = await t.gatewayA.send(new GetObjectCommand({ Bucket: TARGET, Key: across.key }));
    expect(await there.Body?.transformToString()).toBe(`content of ${across.key}`);
  });

  it("S3ComputeObjectChecksum, LambdaInvoke and S3ReplicateObject", async () => {
    const sum = await runOn(BUCKET, {
      S3ComputeObjectChecksum: { ChecksumAlgorithm: "SHA256", ChecksumType: "FULL_OBJECT" },
    });
    expectOutcome("S3ComputeObjectChecksum", sum);
    expect(sum.line).toContain("checksum_hex");
    const invoked = await runOn(BUCKET, {
      LambdaInvoke: { FunctionArn: FN, InvocationSchemaVersion: "1.0" },
    });
    expectOutcome("LambdaInvoke", invoked);
    expect(invoked.line).toContain(`saw ${invoked.key}`);
    const replicated = await runOn(BUCKET, { S3ReplicateObject: {} });
    expectOutcome("S3ReplicateObject", replicated);
    const copy = await t.gatewayA.send(new GetObjectCommand({ Bucket: BUCKET, Key: replicated.key }));
    expect(await copy.Body?.transformToString()).toBe(`content of ${replicated.key}`);
  });
});
