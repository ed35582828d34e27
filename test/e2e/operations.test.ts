// Every operation on the emulated gateways, checked on the objects themselves: A is LocalStack,
// B is moto. Objects sit on A only, B only, or both; the in-place operations must reach every
// copy, the others (copy, checksum, Lambda, replicate) run once, on the first gateway holding
// the object.
import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AwsCrc32 } from "@aws-crypto/crc32";
import { AwsCrc32c } from "@aws-crypto/crc32c";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { CreateJobCommandInput } from "@aws-sdk/client-s3-control";
import { Crc64Nvme } from "@aws-sdk/crc64-nvme";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseCsvLine } from "../../lib/manifest/csv.ts";
import { freshBucket } from "../helpers/buckets.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

let t: TestRuntime;
let fn: Server;
const calls: { key: string; body: Record<string, unknown> }[] = [];
const BUCKET = "ops";
const REPORTS = "ops-reports";

type Where = "a" | "b" | "both";
const clients = (where: Where) =>
  where === "a" ? [t.gatewayA] : where === "b" ? [t.gatewayB] : [t.gatewayA, t.gatewayB];

async function put(
  where: Where,
  key: string,
  body: string | Uint8Array,
  extra: Record<string, unknown> = {},
  bucket = BUCKET,
) {
  for (const s3 of clients(where))
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
}

/** Runs a job over `keys` of `bucket` and returns it with its report's two files. */
async function run(keys: string[], Operation: CreateJobCommandInput["Operation"], bucket = BUCKET) {
  const manifestKey = `manifests/${randomUUID()}.csv`;
  const body = keys.map((k) => `${bucket},${encodeURIComponent(k)}`).join("\n");
  const m = await t.gatewayA.send(new PutObjectCommand({ Bucket: REPORTS, Key: manifestKey, Body: body }));
  const manifest = { arn: `arn:aws:s3:::${REPORTS}/${manifestKey}`, etag: m.ETag ?? "" };
  return runReportedJob(t.control, t.gatewayA, REPORTS, createJobInput(manifest, Operation), {
    timeoutMs: 180_000,
  });
}

/** Uploads a multipart object part by part, each part made only when its turn comes. */
async function putParts(s3: S3Client, key: string, parts: Iterable<Uint8Array>) {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  const done: { PartNumber: number; ETag?: string }[] = [];
  for (const Body of parts) {
    const PartNumber = done.length + 1;
    const out = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber, Body }),
    );
    done.push({ PartNumber, ETag: out.ETag });
  }
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: done },
    }),
  );
}

const rows = (text: string) => text.split("\n").filter(Boolean);
/** The ResultMessage of a one-row report file, parsed as JSON. */
const resultOf = (file: string) => JSON.parse(parseCsvLine(rows(file)[0] ?? "")?.[6] ?? "null");
const tags = async (s3: S3Client, key: string, bucket = BUCKET) =>
  (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet ?? [];
const text = async (s3: S3Client, bucket: string, key: string) =>
  (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToByteArray()) ??
  new Uint8Array();

beforeAll(async () => {
  // A small Lambda-like function: Succeeded, TemporaryFailure twice then Succeeded, or PermanentFailure.
  const seen = new Map<string, number>();
  fn = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
    });
    req.on("end", () => {
      const body = JSON.parse(raw);
      const task = body.tasks[0];
      calls.push({ key: task.s3Key, body });
      const n = (seen.get(task.s3Key) ?? 0) + 1;
      seen.set(task.s3Key, n);
      const resultCode = task.s3Key.includes("perm")
        ? "PermanentFailure"
        : task.s3Key.includes("temp") && n <= 2
          ? "TemporaryFailure"
          : "Succeeded";
      const args = body.job.userArguments ? JSON.stringify(body.job.userArguments) : "";
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          invocationSchemaVersion: body.invocationSchemaVersion,
          treatMissingKeysAs: "PermanentFailure",
          invocationId: body.invocationId,
          results: [
            {
              taskId: task.taskId,
              resultCode,
              resultString: `${resultCode} for ${task.s3Key}, try ${n} ${args}`,
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((r) => fn.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(fn.address() as AddressInfo).port}/invoke`;
  t = await startTestRuntime({
    S3BATCH_LAMBDA_FUNCTIONS: JSON.stringify({
      "arn:aws:lambda:us-east-1:123456789012:function:tagger": url,
    }),
    S3BATCH_COPY_MULTIPART_THRESHOLD: String(5 * 1024 * 1024),
    S3BATCH_COPY_PART_BYTES: String(5 * 1024 * 1024),
  });
  for (const s3 of [t.gatewayA, t.gatewayB]) await freshBucket(s3, BUCKET);
  await freshBucket(t.gatewayA, REPORTS);
}, 120_000);
afterAll(async () => {
  await t?.stop();
  fn?.close();
});

describe("in-place operations reach every copy of the object", () => {
  it("S3DeleteObjectTagging removes the tags on A, on B and on both", async () => {
    const keys = ["dt/a", "dt/b", "dt/both"];
    for (const [k, w] of [
      ["dt/a", "a"],
      ["dt/b", "b"],
      ["dt/both", "both"],
    ] as const)
      await put(w, k, "x", { Tagging: "team=blue&keep=no" });
    const r = await run([...keys, "dt/missing"], { S3DeleteObjectTagging: {} });
    expect(r.job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 3, NumberOfTasksFailed: 1 });
    for (const s3 of [t.gatewayA]) expect(await tags(s3, "dt/a")).toEqual([]);
    expect(await tags(t.gatewayB, "dt/b")).toEqual([]);
    for (const s3 of [t.gatewayA, t.gatewayB]) expect(await tags(s3, "dt/both")).toEqual([]);
    expect(r.failed).toBe(
      "ops,dt%2Fmissing,,failed,404,NoSuchKey,The specified key does not exist on any endpoint\n",
    );
  });

  it("S3PutObjectAcl sets a canned ACL and a full access control policy", async () => {
    await put("both", "acl/canned", "x");
    await put("both", "acl/policy", "x");
    const canned = await run(["acl/canned"], {
      S3PutObjectAcl: { AccessControlPolicy: { CannedAccessControlList: "public-read" } },
    });
    expect(canned.job.ProgressSummary?.NumberOfTasksSucceeded).toBe(1);
    for (const s3 of [t.gatewayA, t.gatewayB]) {
      const acl = await s3.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: "acl/canned" }));
      expect(
        acl.Grants?.some((g) => g.Grantee?.URI?.endsWith("/global/AllUsers") && g.Permission === "READ"),
        JSON.stringify(acl.Grants),
      ).toBe(true);
    }
    const owner = (await t.gatewayA.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: "acl/policy" })))
      .Owner;
    const policy = await run(["acl/policy"], {
      S3PutObjectAcl: {
        AccessControlPolicy: {
          AccessControlList: {
            Owner: { ID: owner?.ID, DisplayName: owner?.DisplayName },
            Grants: [
              { Grantee: { TypeIdentifier: "id", Identifier: owner?.ID }, Permission: "FULL_CONTROL" },
              {
                Grantee: {
                  TypeIdentifier: "uri",
                  Identifier: "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
                },
                Permission: "READ_ACP",
              },
            ],
          },
        },
      },
    });
    expect(policy.failed).toBe("");
    // moto accepts an AccessControlPolicy body but keeps only its owner grant (an emulator
    // limit), so the group grant is checked on LocalStack.
    const acl = await t.gatewayA.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: "acl/policy" }));
    expect(
      acl.Grants?.some((g) => g.Grantee?.URI?.endsWith("/AuthenticatedUsers") && g.Permission === "READ_ACP"),
      JSON.stringify(acl.Grants),
    ).toBe(true);
    const onB = await t.gatewayB.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: "acl/policy" }));
    expect(onB.Grants?.some((g) => g.Grantee?.ID === owner?.ID && g.Permission === "FULL_CONTROL")).toBe(
      true,
    );
  });

  describe("object lock", () => {
    const LOCKED = "ops-locked";
    beforeAll(async () => {
      for (const s3 of [t.gatewayA, t.gatewayB]) {
        await s3
          .send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }))
          .catch(() => {});
        await put(s3 === t.gatewayA ? "a" : "b", "gov", "g", {}, LOCKED);
        await put(s3 === t.gatewayA ? "a" : "b", "comp", "c", {}, LOCKED);
        await put(s3 === t.gatewayA ? "a" : "b", "hold", "h", {}, LOCKED);
      }
    });
    // Read through HeadObject: moto answers GetObjectRetention with XML the SDK cannot parse.
    const retention = async (s3: S3Client, key: string) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: LOCKED, Key: key }));
      return { Mode: head.ObjectLockMode, RetainUntilDate: head.ObjectLockRetainUntilDate };
    };

    it("S3PutObjectRetention sets GOVERNANCE and COMPLIANCE, and removes GOVERNANCE with the bypass", async () => {
      const until = new Date(Date.now() + 3_600_000);
      const gov = await run(
        ["gov"],
        { S3PutObjectRetention: { Retention: { Mode: "GOVERNANCE", RetainUntilDate: until } } },
        LOCKED,
      );
      const comp = await run(
        ["comp"],
        { S3PutObjectRetention: { Retention: { Mode: "COMPLIANCE", RetainUntilDate: until } } },
        LOCKED,
      );
      expect([gov.failed, comp.failed]).toEqual(["", ""]);
      for (const s3 of [t.gatewayA, t.gatewayB]) {
        expect((await retention(s3, "gov"))?.Mode).toBe("GOVERNANCE");
        expect((await retention(s3, "comp"))?.Mode).toBe("COMPLIANCE");
        expect((await retention(s3, "comp"))?.RetainUntilDate?.getTime()).toBeCloseTo(until.getTime(), -4);
      }
      const removed = await run(
        ["gov"],
        { S3PutObjectRetention: { BypassGovernanceRetention: true, Retention: {} } },
        LOCKED,
      );
      expect(removed.failed).toBe("");
      for (const s3 of [t.gatewayA, t.gatewayB]) expect((await retention(s3, "gov")).Mode).toBeUndefined();
    });

    it("S3PutObjectLegalHold turns a hold ON and OFF", async () => {
      const status = async (s3: S3Client) =>
        (await s3.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: "hold" }))).LegalHold?.Status;
      expect(
        (await run(["hold"], { S3PutObjectLegalHold: { LegalHold: { Status: "ON" } } }, LOCKED)).failed,
      ).toBe("");
      for (const s3 of [t.gatewayA, t.gatewayB]) expect(await status(s3)).toBe("ON");
      expect(
        (await run(["hold"], { S3PutObjectLegalHold: { LegalHold: { Status: "OFF" } } }, LOCKED)).failed,
      ).toBe("");
      for (const s3 of [t.gatewayA, t.gatewayB]) expect(await status(s3)).toBe("OFF");
    });
  });

  it("S3InitiateRestoreObject restores an archived object, and a second restore of it succeeds too", async () => {
    await put("b", "rs/archived", "x", { StorageClass: "GLACIER" });
    const first = await run(["rs/archived"], {
      S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "BULK" },
    });
    const again = await run(["rs/archived"], {
      S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "STANDARD" },
    });
    expect([first.failed, again.failed]).toEqual(["", ""]);
    const head = await t.gatewayB.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "rs/archived" }));
    expect(head.Restore).toMatch(/ongoing-request="(true|false)"/);
  });

  it("S3InitiateRestoreObject fails a non-archived object with InvalidObjectState", async () => {
    await put("a", "rs/standard", "x");
    const r = await run(["rs/standard"], {
      S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "BULK" },
    });
    expect(rows(r.failed)).toHaveLength(1);
    expect(r.failed).toContain(",failed,403,InvalidObjectState,endpoint gateway-a:");
  });

  it("S3UpdateObjectEncryption re-encrypts with SSE-KMS where the gateway supports it (moto)", async () => {
    await put("b", "enc/one", "secret", { Metadata: { owner: "ops" }, Tagging: "k=v" });
    const key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    const r = await run(["enc/one"], {
      S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: key } } },
    });
    expect(r.failed).toBe("");
    const head = await t.gatewayB.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "enc/one" }));
    expect(head.ServerSideEncryption).toBe("aws:kms");
    expect(head.SSEKMSKeyId).toContain("11111111-2222-3333-4444-555555555555");
    expect(head.Metadata).toEqual({ owner: "ops" });
    expect(await tags(t.gatewayB, "enc/one")).toEqual([{ Key: "k", Value: "v" }]);
  });
});

describe("operations that run once, on the first gateway holding the object", () => {
  it("S3PutObjectCopy copies within a gateway (small and part by part) and across gateways, with its parameters", async () => {
    const TARGET = "ops-target"; // only on A
    await freshBucket(t.gatewayA, TARGET);
    const big = new Uint8Array(12 * 1024 * 1024).map((_, i) => i % 251);
    await put("a", "cp/small", "small body", { Metadata: { m: "1" }, Tagging: "src=yes" });
    await put("a", "cp/big", big);
    await put("b", "cp/remote", "from moto", { ContentType: "text/x-remote", Tagging: "src=remote" });
    const r = await run(["cp/small", "cp/big", "cp/remote", "cp/none"], {
      S3PutObjectCopy: {
        TargetResource: `arn:aws:s3:::${TARGET}`,
        TargetKeyPrefix: "copied/",
        MetadataDirective: "REPLACE",
        NewObjectMetadata: { ContentType: "application/x-copied", UserMetadata: { stage: "two" } },
        NewObjectTagging: [{ Key: "copied", Value: "yes" }],
        StorageClass: "STANDARD_IA",
      },
    });
    expect(r.job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 3, NumberOfTasksFailed: 1 });
    for (const k of ["cp/small", "cp/big", "cp/remote"]) {
      const head = await t.gatewayA.send(new HeadObjectCommand({ Bucket: TARGET, Key: `copied/${k}` }));
      expect(head.ContentType).toBe("application/x-copied");
      expect(head.Metadata).toEqual({ stage: "two" });
      expect(head.StorageClass).toBe("STANDARD_IA");
      expect(await tags(t.gatewayA, `copied/${k}`, TARGET)).toEqual([{ Key: "copied", Value: "yes" }]);
    }
    expect(Buffer.from(await text(t.gatewayA, TARGET, "copied/cp/big")).equals(Buffer.from(big))).toBe(true);
    // Part by part: the copy of the 12 MiB object is a 3-part multipart object.
    const parts = await t.gatewayA.send(
      new HeadObjectCommand({ Bucket: TARGET, Key: "copied/cp/big", PartNumber: 1 }),
    );
    expect(parts.PartsCount).toBe(3);
    expect(new TextDecoder().decode(await text(t.gatewayA, TARGET, "copied/cp/remote"))).toBe("from moto");
  });

  it.skipIf(!inject("emulators").rgw)(
    "S3PutObjectCopy copies to and from the real gateway (Ceph RGW), small and part by part",
    async () => {
      // Prepare: the sources in a bucket on A, B and R; a target bucket on R only, one on B only
      const r = t.gatewayR as S3Client;
      const [SOURCE, TO_R, TO_B] = [`ops-fed-${randomUUID().slice(0, 8)}`, "ops-to-rgw", "ops-to-moto"];
      for (const s3 of [t.gatewayA, t.gatewayB, r]) await freshBucket(s3, SOURCE);
      await freshBucket(r, TO_R);
      await freshBucket(t.gatewayB, TO_B);
      const big = new Uint8Array(12 * 1024 * 1024).map((_, i) => (i * 7) % 253);
      await t.gatewayA.send(
        new PutObjectCommand({ Bucket: SOURCE, Key: "x/small-a", Body: "from localstack" }),
      );
      await t.gatewayB.send(new PutObjectCommand({ Bucket: SOURCE, Key: "x/big-b", Body: big }));
      await r.send(new PutObjectCommand({ Bucket: SOURCE, Key: "x/from-r", Body: big, Tagging: "src=rgw" }));

      // Act: A and B to R; R to B
      const toR = await run(
        ["x/small-a", "x/big-b"],
        { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${TO_R}` } },
        SOURCE,
      );
      const toB = await run(
        ["x/from-r"],
        { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${TO_B}` } },
        SOURCE,
      );

      // Assess: byte for byte, tags carried, nothing left open
      expect(toR.job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 2, NumberOfTasksFailed: 0 });
      expect(toB.job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 1, NumberOfTasksFailed: 0 });
      expect(new TextDecoder().decode(await text(r, TO_R, "x/small-a"))).toBe("from localstack");
      expect(Buffer.from(await text(r, TO_R, "x/big-b")).equals(Buffer.from(big))).toBe(true);
      expect(Buffer.from(await text(t.gatewayB, TO_B, "x/from-r")).equals(Buffer.from(big))).toBe(true);
      expect(await tags(t.gatewayB, "x/from-r", TO_B)).toEqual([{ Key: "src", Value: "rgw" }]);
      for (const [s3, b] of [
        [r, TO_R],
        [t.gatewayB, TO_B],
      ] as const)
        expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads ?? []).toEqual([]);
    },
  );

  it("S3PutObjectCopy streams a 300 MB object from moto to LocalStack, arriving with the same SHA-256", async () => {
    const TARGET = "ops-target-big";
    await freshBucket(t.gatewayA, TARGET);
    const block = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) % 256);
    const source = createHash("sha256");
    await putParts(
      t.gatewayB,
      "cp/300mb",
      (function* () {
        for (let p = 1; p <= 10; p++) {
          const part = new Uint8Array(30 * 1024 * 1024);
          for (let i = 0; i < 30; i++) {
            block[0] = (p * 31 + i) % 256;
            part.set(block, i * block.length);
          }
          source.update(part);
          yield part;
        }
      })(),
    );
    const r = await run(["cp/300mb"], {
      S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${TARGET}`, ChecksumAlgorithm: "SHA256" },
    });
    expect(r.failed).toBe("");
    const got = await t.gatewayA.send(new GetObjectCommand({ Bucket: TARGET, Key: "cp/300mb" }));
    const target = createHash("sha256");
    let size = 0;
    const stream = got.Body?.transformToWebStream();
    if (!stream) throw new Error("no body");
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      target.update(chunk);
      size += chunk.length;
    }
    expect(size).toBe(300 * 1024 * 1024);
    expect(target.digest("hex")).toBe(source.digest("hex"));
  }, 300_000);

  it("S3ComputeObjectChecksum gives every algorithm's value, checked against independent code", async () => {
    const body = new TextEncoder().encode("The quick brown fox jumps over the lazy dog\n".repeat(1000));
    await put("both", "ck/one", body);
    const crc = async (h: { update(b: Uint8Array): void; digest(): Promise<Uint8Array> }) => {
      h.update(body);
      return Buffer.from(await h.digest()).toString("base64");
    };
    const expected: Record<string, string> = {
      CRC32: await crc(new AwsCrc32()),
      CRC32C: await crc(new AwsCrc32c()),
      CRC64NVME: await crc(new Crc64Nvme()),
      SHA1: createHash("sha1").update(body).digest("base64"),
      SHA256: createHash("sha256").update(body).digest("base64"),
      MD5: createHash("md5").update(body).digest("base64"),
    };
    for (const [algorithm, value] of Object.entries(expected)) {
      const r = await run(["ck/one"], {
        S3ComputeObjectChecksum: { ChecksumAlgorithm: algorithm as "CRC32", ChecksumType: "FULL_OBJECT" },
      });
      expect(resultOf(r.succeeded), algorithm).toMatchObject({
        checksumAlgorithm: algorithm,
        checksumType: "FULL_OBJECT",
        checksum_base64: value,
      });
    }
  });

  it("S3ComputeObjectChecksum COMPOSITE over a multipart object is the checksum of its part checksums", async () => {
    const parts = [new Uint8Array(5 * 1024 * 1024).fill(1), new Uint8Array(1024 * 1024).fill(2)];
    await putParts(t.gatewayA, "ck/multi", parts);
    const perPart = parts.map((p) => createHash("sha256").update(p).digest());
    const composite = `${createHash("sha256").update(Buffer.concat(perPart)).digest("base64")}-2`;
    const r = await run(["ck/multi"], {
      S3ComputeObjectChecksum: { ChecksumAlgorithm: "SHA256", ChecksumType: "COMPOSITE" },
    });
    expect(resultOf(r.succeeded)).toMatchObject({ checksumType: "COMPOSITE", checksum_base64: composite });
  });

  it("LambdaInvoke calls the function once per task in schema 2.0, retrying temporary failures", async () => {
    for (const k of ["fn/ok", "fn/temp", "fn/perm"]) await put("both", k, "x");
    calls.length = 0;
    const r = await run(["fn/ok", "fn/temp", "fn/perm", "fn/none"], {
      LambdaInvoke: {
        FunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:tagger",
        InvocationSchemaVersion: "2.0",
        UserArguments: { mode: "audit" },
      },
    });
    expect(r.succeeded).toBe(
      `ops,fn%2Fok,,succeeded,200,,"Succeeded for fn/ok, try 1 {""mode"":""audit""}"\n` +
        `ops,fn%2Ftemp,,succeeded,200,,"Succeeded for fn/temp, try 3 {""mode"":""audit""}"\n`,
    );
    expect(rows(r.failed)).toEqual([
      `ops,fn%2Fperm,,failed,400,PermanentFailure,"endpoint gateway-a: PermanentFailure for fn/perm, try 1 {""mode"":""audit""}"`,
      "ops,fn%2Fnone,,failed,404,NoSuchKey,The specified key does not exist on any endpoint",
    ]);
    // Once per task although each object is on both gateways; the temporary failure three times.
    expect(calls.map((c) => c.key).sort()).toEqual(["fn/ok", "fn/perm", "fn/temp", "fn/temp", "fn/temp"]);
    expect(calls[0]?.body).toMatchObject({ invocationSchemaVersion: "2.0", tasks: [{ s3Bucket: BUCKET }] });
    // A task's id is its job's and its row's: the three tries of fn/temp (row 1) carry the same one.
    const ids = calls
      .filter((c) => c.key === "fn/temp")
      .map((c) => (c.body.tasks as { taskId: string }[])[0]?.taskId);
    expect(ids).toEqual([`${r.jobId}-1`, `${r.jobId}-1`, `${r.jobId}-1`]);
  });

  it("LambdaInvoke speaks schema 1.0 with the bucket ARN", async () => {
    await put("b", "fn/v1", "x");
    calls.length = 0;
    const r = await run(["fn/v1"], {
      LambdaInvoke: {
        FunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:tagger",
        InvocationSchemaVersion: "1.0",
      },
    });
    expect(r.failed).toBe("");
    expect(calls[0]?.body).toMatchObject({
      invocationSchemaVersion: "1.0",
      tasks: [{ s3Key: "fn/v1", s3BucketArn: `arn:aws:s3:::${BUCKET}` }],
    });
  });

  it("S3ReplicateObject copies the object to the same bucket on every other gateway", async () => {
    await put("a", "rep/one", "replicate me", { ContentType: "text/x-rep", Tagging: "r=1" });
    const r = await run(["rep/one"], { S3ReplicateObject: {} });
    expect(r.succeeded).toBe("ops,rep%2Fone,,succeeded,200,,Replicated to gateway-b\n");
    expect(new TextDecoder().decode(await text(t.gatewayB, BUCKET, "rep/one"))).toBe("replicate me");
    const head = await t.gatewayB.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "rep/one" }));
    expect(head.ContentType).toBe("text/x-rep");
    expect(await tags(t.gatewayB, "rep/one")).toEqual([{ Key: "r", Value: "1" }]);
  });
});
