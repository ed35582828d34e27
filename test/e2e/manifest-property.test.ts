// Row i is row i's object, whatever the manifest looks like: a property test of the whole path
// (CreateJob, dispatch's offsets, shards, children's ranged reads, the merge, the report) over
// seeded random manifests: a UTF-8 byte-order mark or not, CRLF or LF, a final newline or not,
// blank trailing lines, unicode and %-encoded keys, keys that are prefixes of each other, rows
// that straddle shards (3 to 7 rows each) and read chunks (rows of 900-byte keys), version IDs,
// and objects on one gateway, the other, both or neither, beside decoys named like them. Each
// job tags its rows with a value of its own; then, read from the gateways, the objects carrying
// that value are exactly the rows' objects (every version and decoy listed), and the report is
// the expected report, row for row. Seeds come from S3BATCH_PROPERTY_SEED (default 1) onward.
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJobInput, createReportedJob, finishReportedJob } from "../helpers/jobs.ts";
import { rng } from "../helpers/rng.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const MANIFESTS = Number(process.env.S3BATCH_PROPERTY_MANIFESTS ?? 50);
const FIRST_SEED = Number(process.env.S3BATCH_PROPERTY_SEED ?? 1);
const BUCKET = "propb";
/** Keys of this run begin with it: earlier runs' versions and tags are not this run's. */
const RUN = Math.random().toString(36).slice(2, 8);
const VERSIONED = "propv";
const LONG = "L".repeat(880);
const NAMES = [
  "obj-1",
  "obj-10",
  "obj-100",
  "a",
  "a/b",
  "ab",
  "a b",
  "é/ü",
  "日本/文字.txt",
  "emoji-😀",
  "100%",
  "plus+sign",
  "comma,here",
  'quote"d',
  "\uFEFFbom-in-key",
  `${LONG}-x`,
  `${LONG}-xy`,
];

type Place = "a" | "b" | "both" | "none";
interface Row {
  key: string;
  raw: string;
  place: Place;
  versionId?: string;
}

/** A key as a manifest spells it: fully or minimally %-encoded (what must be: %, +, comma, quote, non-ASCII sometimes). */
function spell(key: string, r: () => number): string {
  if (r() < 0.4) return key.split("/").map(encodeURIComponent).join("/");
  return key.replace(/[%+,"\r\n]/g, (c) => encodeURIComponent(c)).replace(/ /g, r() < 0.5 ? "+" : "%20");
}

function plan(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const versioned = r() < 0.25;
  const count = 1 + Math.floor(r() * 30);
  const rows: Row[] = [];
  // Where an object lives is the key's, whichever rows name it (a key may be named twice).
  const places = new Map<string, Place>();
  for (let i = 0; i < count; i++) {
    const key = `${RUN}/s${seed}/${pick(NAMES)}${r() < 0.3 ? `/${i}` : ""}`;
    // Versioned manifests name versions that exist, on the versioned bucket (on A).
    const place: Place =
      places.get(key) ?? (versioned ? "a" : pick(["a", "b", "both", "both", "none"] as const));
    places.set(key, place);
    rows.push({ key, raw: spell(key, r), place });
  }
  return {
    seed,
    versioned,
    rows,
    bom: r() < 0.5,
    crlf: r() < 0.5,
    finalNewline: r() < 0.6,
    blankTail: r() < 0.3,
    tag: `${RUN}-${seed}`,
  };
}

let t: TestRuntime;
const clients = () => ({ a: t.gatewayA, b: t.gatewayB });

async function ensure(s3: S3Client, bucket: string, versioned = false) {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && /BucketAlready/.test(err.name))) throw err;
  }
  if (versioned)
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
}

beforeAll(async () => {
  // Shards of 3 rows: most manifests have rows on both sides of several shard boundaries.
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "3" });
  for (const s3 of [t.gatewayA, t.gatewayB]) await ensure(s3, BUCKET);
  await ensure(t.gatewayA, VERSIONED, true);
});
afterAll(async () => {
  await t?.stop();
});

/** Writes a plan's objects (and decoys named like them) and its manifest; fills in version IDs. */
async function prepare(p: ReturnType<typeof plan>): Promise<{ arn: string; etag: string; bucket: string }> {
  const { a, b } = clients();
  const bucket = p.versioned ? VERSIONED : BUCKET;
  const limit = pLimit(8);
  const written = new Map<string, Promise<string | undefined>>();
  const put = (s3: S3Client, key: string) =>
    limit(
      async () => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))).VersionId,
    );
  for (const row of p.rows) {
    const on = row.place === "a" ? [a] : row.place === "b" ? [b] : row.place === "both" ? [a, b] : [];
    for (const s3 of on) {
      const id = `${s3 === a ? "a" : "b"}/${row.key}`;
      if (!written.has(id)) {
        // In a versioned bucket: two versions, the row names the older one.
        written.set(
          id,
          put(s3, row.key).then(async (v) => {
            if (p.versioned) await put(s3, row.key);
            return v;
          }),
        );
      }
    }
    // Decoys: the key one character longer, and one shorter.
    for (const decoy of [`${row.key}0`, [...row.key].slice(0, -1).join("")])
      for (const s3 of [a, b].filter((c) => !p.versioned || c === a)) {
        const id = `${s3 === a ? "a" : "b"}/${decoy}`;
        if (!written.has(id) && !p.rows.some((x) => x.key === decoy)) written.set(id, put(s3, decoy));
      }
  }
  for (const row of p.rows) if (p.versioned) row.versionId = await written.get(`a/${row.key}`);
  const nl = p.crlf ? "\r\n" : "\n";
  let text = p.rows.map((row) => `${bucket},${row.raw}${p.versioned ? `,${row.versionId}` : ""}`).join(nl);
  if (p.finalNewline) text += nl;
  if (p.blankTail) text += `${nl}${nl}`;
  const body = new Uint8Array([...(p.bom ? [0xef, 0xbb, 0xbf] : []), ...new TextEncoder().encode(text)]);
  const key = `manifests/s${p.seed}.csv`;
  await Promise.all(written.values());
  const out = await a.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  return { arn: `arn:aws:s3:::${BUCKET}/${key}`, etag: out.ETag ?? "", bucket };
}

/** Every object (every version) under the seed's prefix that carries the seed's tag, per gateway. */
async function tagged(p: ReturnType<typeof plan>, bucket: string): Promise<string[]> {
  const out: string[] = [];
  const limit = pLimit(8);
  for (const [name, s3] of Object.entries(clients())) {
    if (p.versioned && name === "b") continue; // the versioned bucket lives on A
    const versions = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `${RUN}/s${p.seed}/` }),
    );
    await Promise.all(
      (versions.Versions ?? []).map((v) =>
        limit(async () => {
          const tags = await s3.send(
            new GetObjectTaggingCommand({
              Bucket: bucket,
              Key: v.Key,
              ...(p.versioned ? { VersionId: v.VersionId } : {}),
            }),
          );
          if ((tags.TagSet ?? []).some((x) => x.Key === "prop" && x.Value === p.tag))
            out.push(`${name}:${v.Key}${p.versioned ? `@${v.VersionId}` : ""}`);
        }),
      ),
    );
  }
  return out.sort();
}

/** The objects the rows name that exist, per gateway: what must carry the tag. */
function expectedTagged(p: ReturnType<typeof plan>): string[] {
  const out = new Set<string>();
  for (const row of p.rows) {
    const v = p.versioned ? `@${row.versionId}` : "";
    if (row.place === "a" || row.place === "both") out.add(`a:${row.key}${v}`);
    if (row.place === "b" || row.place === "both") out.add(`b:${row.key}${v}`);
  }
  return [...out].sort();
}

const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

function expectedReport(p: ReturnType<typeof plan>, bucket: string) {
  let succeeded = "";
  let failed = "";
  for (const row of p.rows) {
    const echo = `${bucket},${csvField(row.raw)},${p.versioned ? csvField(row.versionId ?? "") : ""}`;
    if (row.place === "none")
      failed += `${echo},failed,404,NoSuchKey,The specified key does not exist on any endpoint\n`;
    else succeeded += `${echo},succeeded,200,,Successful\n`;
  }
  return { succeeded, failed };
}

describe("manifests, whatever they look like", () => {
  it(`map row i to row i's object, for the children, the merge and the report (${MANIFESTS} seeded manifests)`, async () => {
    const seeds = Array.from({ length: MANIFESTS }, (_, i) => FIRST_SEED + i);
    const failures: string[] = [];
    const features = { bom: 0, crlf: 0, noFinalNewline: 0, versioned: 0, longRows: 0 };
    const limit = pLimit(5);
    await Promise.all(
      seeds.map((seed) =>
        limit(async () => {
          const p = plan(seed);
          features.bom += p.bom ? 1 : 0;
          features.crlf += p.crlf ? 1 : 0;
          features.noFinalNewline += p.finalNewline ? 0 : 1;
          features.versioned += p.versioned ? 1 : 0;
          features.longRows += p.rows.some((r) => r.key.includes(LONG)) ? 1 : 0;
          const m = await prepare(p);
          const input = createJobInput(
            { arn: m.arn, etag: m.etag },
            { S3PutObjectTagging: { TagSet: [{ Key: "prop", Value: p.tag }] } },
            {
              Manifest: {
                Spec: {
                  Format: "S3BatchOperations_CSV_20180820",
                  Fields: p.versioned ? ["Bucket", "Key", "VersionId"] : ["Bucket", "Key"],
                },
                Location: { ObjectArn: m.arn, ETag: m.etag },
              },
            },
          );
          const created = await createReportedJob(t.control, BUCKET, input);
          const done = await finishReportedJob(t.control, t.gatewayA, BUCKET, created);
          const want = expectedReport(p, m.bucket);
          const got = { succeeded: done.succeeded, failed: done.failed };
          const changed = await tagged(p, m.bucket);
          const wantChanged = expectedTagged(p);
          if (done.job.Status !== "Complete") failures.push(`seed ${seed}: ${done.job.Status}`);
          else if (JSON.stringify(got) !== JSON.stringify(want))
            failures.push(`seed ${seed}: report ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
          else if (JSON.stringify(changed) !== JSON.stringify(wantChanged)) {
            const short = (k: string) => k.replace(LONG, "L*880");
            const extra = changed.filter((k) => !wantChanged.includes(k)).map(short);
            const missing = wantChanged.filter((k) => !changed.includes(k)).map(short);
            failures.push(
              `seed ${seed}: tagged, not named ${extra.join(" ")}; named, not tagged ${missing.join(" ")}`,
            );
          }
        }),
      ),
    );
    expect(failures).toEqual([]);
    // The odd cases were all there.
    expect(Math.min(...Object.values(features))).toBeGreaterThan(3);
  }, 600_000);
});
