// The operations matrix on every make of gateway: Ceph RGW on RADOS and on dbstore (the s3gw way),
// MinIO, SeaweedFS, Garage and versitygw, each built or installed once by gateways/ and
// localstack/. Every operation runs as a verified job (`s3batch:verify=true`) on one object the
// make holds, beside LocalStack as a second gateway: a "yes" is an effect read back from the
// gateway, anything else is the gateway's own HTTP status and code from the report row. The run
// writes docs/operations.md's support table; it does not decide what a make should do, except
// for the differences users have met (RGW dbstore's copies, Garage's tagging), which it checks.
// The survey of a tagging job over a federation with Garage predicts Garage's refusals.
// Run: npm run test:gateways.
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { CreateJobCommandInput } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Survey } from "../../lib/operations/survey.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { TEST_CREDENTIALS } from "../helpers/clients.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const FN = "arn:aws:lambda:us-east-1:123456789012:function:echo";
const emulators = inject("emulators");
const built = inject("makes");
const MAKES: Record<string, { url?: string; credentials: { accessKeyId: string; secretAccessKey: string } }> =
  {
    "RGW (RADOS)": { url: emulators.rgw, credentials: TEST_CREDENTIALS },
    "RGW (dbstore)": { url: emulators.rgwDbstore, credentials: TEST_CREDENTIALS },
    MinIO: built.minio ?? { credentials: TEST_CREDENTIALS },
    SeaweedFS: built.seaweedfs ?? { credentials: TEST_CREDENTIALS },
    Garage: built.garage ?? { credentials: TEST_CREDENTIALS },
    versitygw: { url: emulators.gatewayC, credentials: TEST_CREDENTIALS },
  };
const OPERATIONS = [
  "S3PutObjectTagging",
  "S3DeleteObjectTagging",
  "S3PutObjectAcl",
  "S3InitiateRestoreObject",
  "S3PutObjectRetention",
  "S3PutObjectLegalHold",
  "S3UpdateObjectEncryption",
  "S3PutObjectCopy (within)",
  "S3PutObjectCopy (across)",
  "S3ComputeObjectChecksum",
  "LambdaInvoke",
  "S3ReplicateObject",
] as const;
/** make → operation → "yes" or the gateway's answer. */
const table: Record<string, Partial<Record<(typeof OPERATIONS)[number], string>>> = {};

let fn: Server;
let fnUrl = "";
beforeAll(async () => {
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
        results: [{ taskId: body.tasks[0].taskId, resultCode: "Succeeded", resultString: "seen" }],
      }),
    );
  });
  await new Promise<void>((r) => fn.listen(0, "127.0.0.1", () => r()));
  const address = fn.address();
  fnUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`;
});
afterAll(() => {
  fn?.close();
  writeSupportTable();
});

/** Writes the table between docs/operations.md's markers. */
function writeSupportTable() {
  const makes = Object.keys(table);
  if (makes.length === 0) return;
  const path = join(import.meta.dirname, "../../docs/operations.md");
  const doc = readFileSync(path, "utf8");
  const [start, end] = ["<!-- support-table:start -->", "<!-- support-table:end -->"];
  const lines = [
    start,
    `Written by \`npm run test:gateways\` on ${new Date().toISOString().slice(0, 10)}: every operation as a verified job`,
    '(`s3batch:verify=true`), so "yes" is an effect read back from the gateway; otherwise the',
    "gateway's own HTTP status and error code from the report row.",
    "",
    `| operation | ${makes.join(" | ")} |`,
    `|---|${makes.map(() => "---").join("|")}|`,
    ...OPERATIONS.map((op) => `| ${op} | ${makes.map((m) => table[m]?.[op] ?? "-").join(" | ")} |`),
    end,
  ];
  const at = doc.indexOf(start);
  const to = doc.indexOf(end);
  const next =
    at >= 0 && to > at
      ? doc.slice(0, at) + lines.join("\n") + doc.slice(to + end.length)
      : `${doc}\n${lines.join("\n")}\n`;
  writeFileSync(path, next);
}

for (const [make, m] of Object.entries(MAKES)) {
  describe.skipIf(!m.url)(make, () => {
    let t: TestRuntime;
    let s3: S3Client;
    const id = randomUUID().slice(0, 8);
    const [BUCKET, LOCKED, TARGET] = [`mx-${id}`, `mx-lock-${id}`, `mx-target-${id}`];
    let lockedBucket = LOCKED;

    beforeAll(async () => {
      t = await startTestRuntime({
        S3BATCH_ENDPOINTS: JSON.stringify([
          { id: "gw", url: m.url, credentials: m.credentials },
          { id: "gateway-a", url: emulators.gatewayA, credentials: TEST_CREDENTIALS },
        ]),
        S3BATCH_LAMBDA_FUNCTIONS: JSON.stringify({ [FN]: fnUrl }),
      });
      s3 = new S3Client({
        region: "us-east-1",
        endpoint: m.url,
        forcePathStyle: true,
        credentials: m.credentials,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      });
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      // A make without Object Lock runs retention and legal hold on a plain bucket: its answer is the cell.
      lockedBucket = await s3
        .send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }))
        .then(() => LOCKED)
        .catch(() => BUCKET);
      for (const b of [TARGET, BUCKET]) await t.gatewayA.send(new CreateBucketCommand({ Bucket: b }));
      table[make] = {};
    }, 300_000);
    afterAll(async () => {
      s3?.destroy();
      await t?.stop();
    });

    /** Runs a verified job of `operation` over one object the make holds; records the cell. */
    async function cell(
      name: (typeof OPERATIONS)[number],
      operation: CreateJobCommandInput["Operation"],
      bucket = BUCKET,
    ) {
      const key = `obj-${randomUUID().slice(0, 8)}`;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `content of ${key}` }));
      const manifest = await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${key}.csv`, Body: `${bucket},${key}` }),
      );
      const r = await runReportedJob(
        t.control,
        t.gatewayA,
        BUCKET,
        createJobInput({ arn: `arn:aws:s3:::${bucket}/${key}.csv`, etag: manifest.ETag ?? "" }, operation, {
          Tags: [{ Key: "s3batch:verify", Value: "true" }],
        }),
        { timeoutMs: 120_000 },
      );
      const line = (r.succeeded || r.failed).trim();
      const [, , , status, http, code] = line.split(",");
      const value = status === "succeeded" ? "yes" : `\`${http} ${code}\``;
      (table[make] as Record<string, string>)[name] = value;
      expect(r.job.Status, line).toBe("Complete");
      return value;
    }

    it("runs every operation, each a yes read back or the gateway's own answer", async () => {
      const until = new Date(Date.now() + 86_400_000);
      await cell("S3PutObjectTagging", { S3PutObjectTagging: { TagSet: [{ Key: "mx", Value: "1" }] } });
      await cell("S3DeleteObjectTagging", { S3DeleteObjectTagging: {} });
      await cell("S3PutObjectAcl", {
        S3PutObjectAcl: { AccessControlPolicy: { CannedAccessControlList: "public-read" } },
      });
      await cell("S3InitiateRestoreObject", {
        S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "STANDARD" },
      });
      await cell(
        "S3PutObjectRetention",
        { S3PutObjectRetention: { Retention: { Mode: "GOVERNANCE", RetainUntilDate: until } } },
        lockedBucket,
      );
      await cell(
        "S3PutObjectLegalHold",
        { S3PutObjectLegalHold: { LegalHold: { Status: "ON" } } },
        lockedBucket,
      );
      await cell("S3UpdateObjectEncryption", {
        S3UpdateObjectEncryption: {
          ObjectEncryption: { SSEKMS: { KMSKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k" } },
        },
      } as CreateJobCommandInput["Operation"]);
      const within = await cell("S3PutObjectCopy (within)", {
        S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${BUCKET}`, TargetKeyPrefix: "copy/" },
      });
      await cell("S3PutObjectCopy (across)", {
        S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${TARGET}` },
      });
      await cell("S3ComputeObjectChecksum", {
        S3ComputeObjectChecksum: { ChecksumAlgorithm: "SHA256", ChecksumType: "FULL_OBJECT" },
      });
      await cell("LambdaInvoke", { LambdaInvoke: { FunctionArn: FN, InvocationSchemaVersion: "1.0" } });
      await cell("S3ReplicateObject", { S3ReplicateObject: {} });

      // The differences users have met.
      if (make === "RGW (dbstore)") expect(within).toBe("`500 EffectNotApplied`");
      if (make === "RGW (RADOS)") expect(within).toBe("yes");
      if (make === "Garage") expect(table[make]?.S3PutObjectTagging).toMatch(/^`501 /);
    });
  });
}

describe.skipIf(!built.garage)("a survey over a federation with Garage", () => {
  it("predicts Garage's refusal of tagging, with its own code", async () => {
    // Prepare: a bucket on LocalStack and on Garage, three objects on each; the probe's bucket
    const garage = built.garage as NonNullable<typeof built.garage>;
    const s3 = new S3Client({
      region: "us-east-1",
      endpoint: garage.url,
      forcePathStyle: true,
      credentials: garage.credentials,
    });
    const id = randomUUID().slice(0, 8);
    const [bucket, probe] = [`mxs-${id}`, `mxp-${id}`];
    for (const b of [bucket, probe]) await s3.send(new CreateBucketCommand({ Bucket: b }));
    const t = await startTestRuntime({
      S3BATCH_ENDPOINTS: JSON.stringify([
        { id: "gateway-a", url: emulators.gatewayA, credentials: TEST_CREDENTIALS, probeBucket: probe },
        { id: "garage", url: garage.url, credentials: garage.credentials, probeBucket: probe },
      ]),
    });
    try {
      for (const b of [bucket, probe]) await t.gatewayA.send(new CreateBucketCommand({ Bucket: b }));
      for (let i = 0; i < 3; i++) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `g/${i}`, Body: "x" }));
        await t.gatewayA.send(new PutObjectCommand({ Bucket: bucket, Key: `a/${i}`, Body: "x" }));
      }
      const rows = [0, 1, 2].flatMap((i) => [`${bucket},g/${i}\n`, `${bucket},a/${i}\n`]).join("");
      await t.gatewayA.send(new PutObjectCommand({ Bucket: bucket, Key: "m.csv", Body: rows }));
      const env = cliEnv(t.runtime.url);
      for (let i = 0; i < 120; i++) {
        const r = JSON.parse((await runCli(["--json", "gateways"], env)).stdout) as {
          gateways: { probedAt: string }[];
        };
        if (r.gateways.every((g) => g.probedAt)) break;
        await new Promise((r2) => setTimeout(r2, 500));
      }

      // Act
      const dry = await runCli(
        ["--json", "create", "--manifest", `s3://${bucket}/m.csv`, "--tag", "k=v", "--dry-run"],
        env,
      );

      // Assess
      expect(dry.code, dry.stderr).toBe(0);
      const { survey } = JSON.parse(dry.stdout) as { survey: Survey };
      expect(Object.values(survey.wouldFail)).toEqual([3]);
      expect(Object.keys(survey.wouldFail)[0]).toMatch(/NotImplemented/);
    } finally {
      s3.destroy();
      await t.stop();
    }
  });
});
