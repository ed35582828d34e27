// Manifest formats through the whole pipeline: a CSV manifest with Spec.Fields, odd keys, objects
// on one gateway, the other or both, missing objects and buckets (the report checked row for row
// against a reference); version IDs acting on that version; the failures a user must see (ETag
// mismatch, header row, malformed line); and S3 Inventory manifests with checked MD5s.
import { createHash, randomUUID } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { CreateJobCommandInput } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshBucket, readText } from "../helpers/buckets.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

let t: TestRuntime;
const DATA = "mix";
const REPORTS = "mix-reports";
const TAGGING: CreateJobCommandInput["Operation"] = {
  S3PutObjectTagging: { TagSet: [{ Key: "batch", Value: "mixed" }] },
};

const put = (s3: S3Client, Key: string, Body = "x", Bucket = DATA) =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body }));
const tagsOf = async (s3: S3Client, Key: string, VersionId?: string) =>
  (await s3.send(new GetObjectTaggingCommand({ Bucket: DATA, Key, VersionId }))).TagSet ?? [];

async function run(
  body: string | Uint8Array,
  spec: NonNullable<CreateJobCommandInput["Manifest"]>["Spec"],
  key = `m-${randomUUID()}.csv`,
) {
  const m = await t.gatewayA.send(new PutObjectCommand({ Bucket: REPORTS, Key: key, Body: body }));
  return runAt(`arn:aws:s3:::${REPORTS}/${key}`, m.ETag ?? "", spec);
}

async function runAt(
  arn: string,
  etag: string,
  spec: NonNullable<CreateJobCommandInput["Manifest"]>["Spec"],
) {
  const input = createJobInput({ arn, etag }, TAGGING, {
    Manifest: { Spec: spec, Location: { ObjectArn: arn, ETag: etag } },
  });
  return runReportedJob(t.control, t.gatewayA, REPORTS, input);
}

beforeAll(async () => {
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "3" });
  for (const s3 of [t.gatewayA, t.gatewayB]) await freshBucket(s3, DATA);
  await freshBucket(t.gatewayA, REPORTS);
}, 60_000);
afterAll(() => t?.stop());

describe("S3BatchOperations_CSV_20180820", () => {
  it("runs a mixed job over both gateways whose report equals the reference row for row", async () => {
    // [manifest key spelling, the key it names, where the object is]
    const cases: [string, string, "a" | "b" | "both" | "none" | "nobucket"][] = [
      ["plain%20space", "plain space", "a"],
      ["plus+is+space", "plus is space", "b"],
      ["literal%2Bplus", "literal+plus", "both"],
      ["dir%2Fnested%2Fkey", "dir/nested/key", "a"],
      ["comma%2Cin%2Ckey", "comma,in,key", "b"],
      ["unicode-%C3%A9%F0%9F%98%80", "unicode-é😀", "both"],
      ["not-there", "not-there", "none"],
      ["%E2%82%AC-euro", "€-euro", "nobucket"],
    ];
    for (const [, key, where] of cases) {
      if (where === "a" || where === "both") await put(t.gatewayA, key);
      if (where === "b" || where === "both") await put(t.gatewayB, key);
    }
    const bucketOf = (where: string) => (where === "nobucket" ? "no-such-bucket-anywhere" : DATA);
    const manifest = cases
      .map(([spelled, , where], i) => `ignored-${i},${bucketOf(where)},${spelled}`)
      .join("\n");
    const r = await run(manifest, {
      Format: "S3BatchOperations_CSV_20180820",
      Fields: ["Ignore", "Bucket", "Key"],
    });
    const reference = (status: "succeeded" | "failed") =>
      cases
        .filter(([, , where]) => (["a", "b", "both"].includes(where) ? "succeeded" : "failed") === status)
        .map(([spelled, , where]) => {
          const tail =
            where === "none"
              ? "failed,404,NoSuchKey,The specified key does not exist on any endpoint"
              : where === "nobucket"
                ? "failed,404,NoSuchBucket,The specified bucket does not exist on any endpoint"
                : "succeeded,200,,Successful";
          return `${bucketOf(where)},${spelled},,${tail}\n`;
        })
        .join("");
    expect(r.succeeded).toBe(reference("succeeded"));
    expect(r.failed).toBe(reference("failed"));
    for (const [, key, where] of cases) {
      if (where === "a" || where === "both")
        expect(await tagsOf(t.gatewayA, key), key).toEqual([{ Key: "batch", Value: "mixed" }]);
      if (where === "b" || where === "both")
        expect(await tagsOf(t.gatewayB, key), key).toEqual([{ Key: "batch", Value: "mixed" }]);
    }
  });

  it("runs a mixed job with a version ID on every row: versions on A, null versions on both gateways", async () => {
    const VERSIONED = "mix-versions-a";
    await freshBucket(t.gatewayA, VERSIONED);
    await t.gatewayA.send(
      new PutBucketVersioningCommand({ Bucket: VERSIONED, VersioningConfiguration: { Status: "Enabled" } }),
    );
    const old = (await put(t.gatewayA, "odd key+1", "old", VERSIONED)).VersionId ?? "";
    await put(t.gatewayA, "odd key+1", "new", VERSIONED);
    await put(t.gatewayA, "null/both", "a");
    await put(t.gatewayB, "null/both", "b");
    await put(t.gatewayB, "null/b-only é", "b");
    // [bucket, manifest key, version, expected tail]
    const ok = "succeeded,200,,Successful";
    const rowsOf: [string, string, string, string][] = [
      [VERSIONED, "odd+key%2B1", old, ok],
      [DATA, "null%2Fboth", "null", ok],
      [DATA, "null/b-only+%C3%A9", "null", ok],
      [DATA, "null/missing", "null", "failed,404,NoSuchKey,The specified key does not exist on any endpoint"],
    ];
    const r = await run(rowsOf.map(([b, k, v]) => `${b},${k},${v}`).join("\n"), {
      Format: "S3BatchOperations_CSV_20180820",
      Fields: ["Bucket", "Key", "VersionId"],
    });
    const file = (status: string) =>
      rowsOf
        .filter(([, , , tail]) => tail.startsWith(status))
        .map(([b, k, v, tail]) => `${b},${k},${v},${tail}\n`)
        .join("");
    expect(r.succeeded).toBe(file("succeeded"));
    expect(r.failed).toBe(file("failed"));
    const versionTags = async (VersionId?: string) =>
      (await t.gatewayA.send(new GetObjectTaggingCommand({ Bucket: VERSIONED, Key: "odd key+1", VersionId })))
        .TagSet ?? [];
    expect(await versionTags(old)).toEqual([{ Key: "batch", Value: "mixed" }]);
    expect(await versionTags()).toEqual([]);
    for (const s3 of [t.gatewayA, t.gatewayB])
      expect(await tagsOf(s3, "null/both")).toEqual([{ Key: "batch", Value: "mixed" }]);
    expect(await tagsOf(t.gatewayB, "null/b-only é")).toEqual([{ Key: "batch", Value: "mixed" }]);
  });

  it("acts on the version a row names, in a versioned bucket", async () => {
    const VERSIONED = "mix-versioned";
    await freshBucket(t.gatewayA, VERSIONED);
    await t.gatewayA.send(
      new PutBucketVersioningCommand({ Bucket: VERSIONED, VersioningConfiguration: { Status: "Enabled" } }),
    );
    const v1 = (await put(t.gatewayA, "doc", "one", VERSIONED)).VersionId ?? "";
    const v2 = (await put(t.gatewayA, "doc", "two", VERSIONED)).VersionId ?? "";
    const r = await run(`${VERSIONED},doc,${v1}\n${VERSIONED},doc,no-such-version`, {
      Format: "S3BatchOperations_CSV_20180820",
      Fields: ["Bucket", "Key", "VersionId"],
    });
    expect(r.succeeded).toBe(`${VERSIONED},doc,${v1},succeeded,200,,Successful\n`);
    expect(r.failed).toMatch(new RegExp(`^${VERSIONED},doc,no-such-version,failed,`));
    const tagged = async (VersionId: string) =>
      (await t.gatewayA.send(new GetObjectTaggingCommand({ Bucket: VERSIONED, Key: "doc", VersionId })))
        .TagSet ?? [];
    expect(await tagged(v1)).toEqual([{ Key: "batch", Value: "mixed" }]);
    expect(await tagged(v2)).toEqual([]);
  });

  it.each([
    ["a header row", "Bucket,Key\nmix,k", /header row/],
    ["a malformed line", 'mix,k\nmix,"unterminated', /manifest row 2: unbalanced quotes/],
    ["a line with too many columns", "mix,k\nmix,k,extra", /manifest row 2: expected 2 columns, found 3/],
  ])("fails a job whose manifest has %s, saying why", async (_, body, why) => {
    const r = await run(body, { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] });
    expect(r.job.Status).toBe("Failed");
    expect(r.job.FailureReasons?.[0]?.FailureCode).toBe("InvalidManifestContent");
    expect(r.job.FailureReasons?.[0]?.FailureReason).toMatch(why);
    expect(r.report).toBe(false);
  });

  it("fails a job whose manifest ETag does not match", async () => {
    const key = `m-${randomUUID()}.csv`;
    await t.gatewayA.send(new PutObjectCommand({ Bucket: REPORTS, Key: key, Body: "mix,k" }));
    const r = await runAt(`arn:aws:s3:::${REPORTS}/${key}`, "0123456789abcdef0123456789abcdef", {
      Format: "S3BatchOperations_CSV_20180820",
      Fields: ["Bucket", "Key"],
    });
    expect(r.job.Status).toBe("Failed");
    expect(r.job.FailureReasons?.[0]).toMatchObject({ FailureCode: "ManifestNotFound" });
    expect(r.job.FailureReasons?.[0]?.FailureReason).toMatch(/does not have the ETag/);
  });
});

describe("S3InventoryReport_CSV_20161130", () => {
  const INVENTORY = "mix-inventory";
  const write = async (files: { key: string; rows: string[] }[], corrupt = false) => {
    const listed = [];
    for (const f of files) {
      const gz = gzipSync(Buffer.from(`${f.rows.join("\n")}\n`));
      await t.gatewayA.send(new PutObjectCommand({ Bucket: INVENTORY, Key: f.key, Body: gz }));
      const md5 = createHash("md5")
        .update(corrupt ? Buffer.from("other") : gz)
        .digest("hex");
      listed.push({ key: f.key, size: gz.length, MD5checksum: md5 });
    }
    const manifest = {
      sourceBucket: DATA,
      destinationBucket: `arn:aws:s3:::${INVENTORY}`,
      version: "2016-11-30",
      creationTimestamp: "1700000000000",
      fileFormat: "CSV",
      fileSchema: "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
      files: listed,
    };
    const key = `inv-${randomUUID()}/manifest.json`;
    const m = await t.gatewayA.send(
      new PutObjectCommand({ Bucket: INVENTORY, Key: key, Body: JSON.stringify(manifest) }),
    );
    return { arn: `arn:aws:s3:::${INVENTORY}/${key}`, etag: m.ETag ?? "" };
  };
  const row = (key: string) => `"${DATA}","${key}","1","2026-01-01T00:00:00.000Z","etag","STANDARD"`;

  beforeAll(async () => {
    await freshBucket(t.gatewayA, INVENTORY);
    await put(t.gatewayA, "inv/one");
    await put(t.gatewayB, "inv/two words");
    await put(t.gatewayA, "inv/three");
    await put(t.gatewayB, "inv/three");
  });

  it("reads the gzipped CSV files manifest.json lists and runs a task per row", async () => {
    const m = await write([
      { key: "data/part-1.csv.gz", rows: [row("inv/one"), row("inv/two+words")] },
      { key: "data/part-2.csv.gz", rows: [row("inv/three"), row("inv/gone")] },
    ]);
    const r = await runAt(m.arn, m.etag, { Format: "S3InventoryReport_CSV_20161130" });
    expect(r.job.Status).toBe("Complete");
    expect(r.succeeded).toBe(
      `${DATA},inv/one,,succeeded,200,,Successful\n${DATA},inv/two+words,,succeeded,200,,Successful\n${DATA},inv/three,,succeeded,200,,Successful\n`,
    );
    expect(r.failed).toBe(
      `${DATA},inv/gone,,failed,404,NoSuchKey,The specified key does not exist on any endpoint\n`,
    );
    expect(await tagsOf(t.gatewayB, "inv/two words")).toEqual([{ Key: "batch", Value: "mixed" }]);
    for (const s3 of [t.gatewayA, t.gatewayB])
      expect(await tagsOf(s3, "inv/three")).toEqual([{ Key: "batch", Value: "mixed" }]);
  });

  it("fails the job when a data file does not match its MD5checksum", async () => {
    const m = await write([{ key: "data/bad.csv.gz", rows: [row("inv/one")] }], true);
    const r = await runAt(m.arn, m.etag, { Format: "S3InventoryReport_CSV_20161130" });
    expect(r.job.Status).toBe("Failed");
    expect(r.job.FailureReasons?.[0]?.FailureReason).toMatch(/does not match its MD5checksum/);
  });
});

describe("ManifestGenerator", () => {
  const SOURCE = "mix-generated";
  it("lists the source bucket on both gateways with AWS's filters, writes the manifest out and describes it", async () => {
    for (const s3 of [t.gatewayA, t.gatewayB]) await freshBucket(s3, SOURCE);
    const before = new Date(Date.now() - 60_000);
    await put(t.gatewayA, "keep/a.txt", "aaaa", SOURCE);
    await put(t.gatewayB, "keep/b space.txt", "bbbb", SOURCE);
    await put(t.gatewayA, "keep/both.txt", "cc", SOURCE);
    await put(t.gatewayB, "keep/both.txt", "cc", SOURCE);
    await put(t.gatewayA, "keep/big.txt", "x".repeat(2000), SOURCE); // too big
    await put(t.gatewayB, "keep/empty.txt", "", SOURCE); // too small
    await put(t.gatewayA, "keep/c.bin", "cccc", SOURCE); // wrong suffix
    await put(t.gatewayB, "drop/d.txt", "dddd", SOURCE); // wrong prefix
    await t.gatewayA.send(
      new PutObjectCommand({ Bucket: SOURCE, Key: "keep/cold.txt", Body: "cold", StorageClass: "GLACIER" }),
    ); // wrong storage class
    const input = createJobInput({ arn: "", etag: "" }, TAGGING, {
      Manifest: undefined,
      ManifestGenerator: {
        S3JobManifestGenerator: {
          SourceBucket: `arn:aws:s3:::${SOURCE}`,
          EnableManifestOutput: true,
          ManifestOutputLocation: {
            Bucket: `arn:aws:s3:::${REPORTS}`,
            ManifestPrefix: "generated",
            ManifestFormat: "S3InventoryReport_CSV_20211130",
          },
          Filter: {
            KeyNameConstraint: { MatchAnyPrefix: ["keep/"], MatchAnySuffix: [".txt"] },
            ObjectSizeGreaterThanBytes: 1,
            ObjectSizeLessThanBytes: 1000,
            CreatedAfter: before,
            CreatedBefore: new Date(Date.now() + 3_600_000),
            MatchAnyStorageClass: ["STANDARD"],
          },
        },
      },
    });
    const { job, jobId, succeeded } = await runReportedJob(t.control, t.gatewayA, REPORTS, input);
    expect(job.Status).toBe("Complete");
    expect(succeeded).toBe(
      [`${SOURCE},keep/a.txt`, `${SOURCE},keep/b%20space.txt`, `${SOURCE},keep/both.txt`]
        .map((r) => `${r},,succeeded,200,,Successful\n`)
        .join(""),
    );
    const tagged = async (s3: S3Client, Key: string) =>
      (await s3.send(new GetObjectTaggingCommand({ Bucket: SOURCE, Key }))).TagSet ?? [];
    expect(await tagged(t.gatewayB, "keep/b space.txt")).toEqual([{ Key: "batch", Value: "mixed" }]);
    for (const s3 of [t.gatewayA, t.gatewayB])
      expect(await tagged(s3, "keep/both.txt")).toEqual([{ Key: "batch", Value: "mixed" }]);
    expect(await tagged(t.gatewayA, "keep/big.txt")).toEqual([]);

    // DescribeJob names the written manifest; it is an inventory manifest.json over one csv.gz.
    const descriptor = job.GeneratedManifestDescriptor;
    expect(descriptor?.Format).toBe("S3InventoryReport_CSV_20211130");
    const manifestKey = descriptor?.Location?.ObjectArn?.replace(`arn:aws:s3:::${REPORTS}/`, "") ?? "";
    expect(manifestKey).toBe(`generated/job-${jobId}/manifest.json`);
    const doc = JSON.parse(await readText(t.gatewayA, REPORTS, manifestKey));
    expect(doc).toMatchObject({ sourceBucket: SOURCE, fileFormat: "CSV", fileSchema: "Bucket, Key" });
    const gz = await t.gatewayA.send(new GetObjectCommand({ Bucket: REPORTS, Key: doc.files[0].key }));
    const bytes = Buffer.from((await gz.Body?.transformToByteArray()) ?? []);
    expect(createHash("md5").update(bytes).digest("hex")).toBe(doc.files[0].MD5checksum);
    expect(gunzipSync(bytes).toString()).toBe(
      `${SOURCE},keep/a.txt\n${SOURCE},keep/b%20space.txt\n${SOURCE},keep/both.txt\n`,
    );
  });
});
