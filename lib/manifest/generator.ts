// ManifestGenerator (S3JobManifestGenerator): the job's manifest is the source bucket's listing,
// on every endpoint that holds the bucket, filtered as AWS filters it. Each endpoint is listed
// page by page and the sorted listings are merged by key, so a key held by several endpoints is
// one task and memory is one page per endpoint. The result is written as a normalized CSV
// manifest (Bucket,Key, keys URL-encoded) in the internal bucket; with EnableManifestOutput it is
// also written, gzipped, with an inventory-style manifest.json, to ManifestOutputLocation. A
// listing longer than one invocation's budget hands over at a page boundary and resumes after the
// last key written.
import {
  type _Object,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { type Authorizer, s3Arn } from "../auth/authorize.ts";
import type { Context } from "../context.ts";
import { FanoutWriter, type WriterState } from "../endpoints/fanout-writer.ts";
import { routeBuckets } from "../endpoints/routing.ts";
import { RetryableError, UnrecoverableError } from "../errors.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";
import type { ManifestGeneratorSpec } from "../s3control/create-job-schema.ts";
import { bucketOfArn, CONTROL_ENDPOINT, type ManifestObject } from "./location.ts";

type Filter = NonNullable<ManifestGeneratorSpec["Filter"]>;

/** Whether a listed object passes the generator's filter. */
export function passes(o: _Object, f: Filter | undefined): boolean {
  if (!f) return true;
  const key = o.Key ?? "";
  const k = f.KeyNameConstraint;
  if (k?.MatchAnyPrefix?.length && !k.MatchAnyPrefix.some((p) => key.startsWith(p))) return false;
  if (k?.MatchAnySuffix?.length && !k.MatchAnySuffix.some((p) => key.endsWith(p))) return false;
  if (k?.MatchAnySubstring?.length && !k.MatchAnySubstring.some((p) => key.includes(p))) return false;
  const modified = o.LastModified?.getTime() ?? 0;
  if (f.CreatedAfter && modified <= Date.parse(f.CreatedAfter)) return false;
  if (f.CreatedBefore && modified >= Date.parse(f.CreatedBefore)) return false;
  const size = o.Size ?? 0;
  if (f.ObjectSizeGreaterThanBytes !== undefined && size <= f.ObjectSizeGreaterThanBytes) return false;
  if (f.ObjectSizeLessThanBytes !== undefined && size >= f.ObjectSizeLessThanBytes) return false;
  if (
    f.MatchAnyStorageClass?.length &&
    !f.MatchAnyStorageClass.includes((o.StorageClass ?? "STANDARD") as never)
  )
    return false;
  return true;
}

/** One endpoint's listing as a cursor: one page at a time. */
class Listing {
  private page: _Object[] = [];
  private pos = 0;
  private token: string | undefined;
  private done = false;

  constructor(private readonly send: (token: string | undefined) => Promise<ListObjectsV2CommandOutput>) {}

  async head(): Promise<_Object | undefined> {
    while (this.pos >= this.page.length && !this.done) {
      const out = await this.send(this.token);
      this.page = out.Contents ?? [];
      this.pos = 0;
      this.token = out.IsTruncated ? out.NextContinuationToken : undefined;
      this.done = !this.token;
    }
    return this.page[this.pos];
  }

  next(): void {
    this.pos++;
  }
}

/** The merged listing: each key once, in key order, with whether any endpoint's entry passes. */
async function* mergedListing(listings: Listing[], filter: Filter | undefined): AsyncGenerator<string> {
  for (;;) {
    const heads = await Promise.all(listings.map((l) => l.head()));
    let least: string | undefined;
    for (const h of heads) if (h?.Key !== undefined && (least === undefined || h.Key < least)) least = h.Key;
    if (least === undefined) return;
    let pass = false;
    heads.forEach((h, i) => {
      if (h?.Key !== least) return;
      pass ||= passes(h, filter);
      listings[i]?.next();
    });
    if (pass) yield least;
  }
}

const encodeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");

export interface GeneratedManifest {
  manifest: ManifestObject;
  /** Set with EnableManifestOutput: where the generated manifest's manifest.json was written. */
  descriptor?: { Format: "S3InventoryReport_CSV_20211130"; Location: { ObjectArn: string; ETag: string } };
}

/** A generator that handed over: where its listing stands and what it has written. */
export interface GeneratorScan {
  /** The last key written out: every endpoint's listing resumes after it. */
  lastKey: string;
  rows: number;
  /** The normalized manifest's upload (its unsent bytes in the internal bucket, `carry`). */
  writer: { state: WriterState; carry: string };
  /** EnableManifestOutput: the csv.gz files written so far, one per invocation. */
  files?: OutputFile[];
}

interface OutputFile {
  key: string;
  size: number;
  MD5checksum: string;
}

/**
 * Lists, filters and writes the manifest of a generator job, as its role: s3:ListBucket on the
 * source bucket (with s3:prefix), s3:PutObject where the manifest is written out. When `budget`
 * fires it stops at a page boundary and answers where it stands; `saved` resumes it, each
 * endpoint's listing starting after the last key written (ListObjectsV2's StartAfter).
 */
export async function generateManifest(
  ctx: Context,
  spec: ManifestGeneratorSpec,
  job: { accountId: string; jobId: string },
  key: string,
  role: Authorizer,
  budget: AbortSignal,
  saved: GeneratorScan | undefined,
  carryKey: string,
): Promise<GeneratedManifest | { handover: GeneratorScan }> {
  const bucket = bucketOfArn(spec.SourceBucket);
  const prefixes = spec.Filter?.KeyNameConstraint?.MatchAnyPrefix;
  const Prefix = prefixes?.length === 1 ? prefixes[0] : undefined;
  role.require({ action: "s3:ListBucket", resource: s3Arn(bucket), context: { "s3:prefix": Prefix ?? "" } });
  const holders = (await routeBuckets(ctx.gateways, [bucket], (id) => role.mayUse(id)))[bucket] ?? [];
  if (holders.length === 0)
    throw new UnrecoverableError("ManifestNotFound", `no endpoint holds the source bucket ${bucket}`);
  const listings = holders.map((id) => {
    const { s3, availability } = ctx.gateways.get(id);
    return new Listing((token) =>
      withEndpointRetry(availability, () =>
        s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix,
            ContinuationToken: token,
            ...(saved && !token ? { StartAfter: saved.lastKey } : {}),
          }),
        ),
      ),
    );
  });
  const out = spec.EnableManifestOutput ? spec.ManifestOutputLocation : undefined;
  const output = out ? await openOutput(ctx, out, job, role, saved?.files?.length ?? 0) : undefined;
  const targets = [{ s3: ctx.store.s3, bucket: ctx.settings.internalBucket, key }];
  const writer = saved
    ? await FanoutWriter.resume(
        targets,
        ctx.settings.reportPartBytes,
        saved.writer.state,
        await carryOf(ctx, saved.writer.carry),
      )
    : new FanoutWriter(targets, ctx.settings.reportPartBytes);
  let rows = saved?.rows ?? 0;
  let lastKey = saved?.lastKey ?? "";
  const files = [...(saved?.files ?? [])];
  try {
    let text = "";
    const flush = async () => {
      if (text) await Promise.all([writer.write(text), output?.write(text)]);
      text = "";
    };
    for await (const k of mergedListing(listings, spec.Filter)) {
      text += `${bucket},${encodeKey(k)}\n`;
      rows++;
      lastKey = k;
      if (text.length > 64 * 1024) {
        await flush();
        if (budget.aborted) {
          // A handover: this invocation's output file is complete, the manifest's upload saved.
          if (output) files.push(await output.close());
          const { state, unsent } = await writer.save();
          await ctx.store.putBytes(carryKey, unsent);
          return {
            handover: { lastKey, rows, writer: { state, carry: carryKey }, ...(output ? { files } : {}) },
          };
        }
      }
    }
    await flush();
    if (rows === 0) throw new UnrecoverableError("EmptyManifest", "the manifest generator found no objects");
    await writer.finish();
    if (output) files.push(await output.close());
  } catch (err) {
    // A writer resumed from a handover keeps its upload: the scan resumes it again.
    await Promise.all([
      !saved || err instanceof UnrecoverableError ? writer.abort() : undefined,
      output?.abort(),
    ]);
    throw err;
  }
  const head = await ctx.store.s3.send(
    new HeadObjectCommand({ Bucket: ctx.settings.internalBucket, Key: key }),
  );
  const manifest: ManifestObject = {
    endpointId: CONTROL_ENDPOINT,
    bucket: ctx.settings.internalBucket,
    key,
    etag: (head.ETag ?? "").replaceAll('"', ""),
    size: head.ContentLength ?? 0,
    fields: ["Bucket", "Key"],
  };
  return output ? { manifest, descriptor: await output.describe(bucket, files) } : { manifest };
}

async function carryOf(ctx: Context, key: string): Promise<Uint8Array> {
  const bytes = await ctx.store.getBytes(key);
  if (!bytes) throw new RetryableError(`the generator's saved part ${key} is missing`);
  return bytes.body;
}

/**
 * The generated manifest written out as an S3InventoryReport_CSV_20211130: a csv.gz per
 * invocation, gzipped and uploaded as it is written (multipart, bounded), then a manifest.json
 * naming them all.
 */
async function openOutput(
  ctx: Context,
  out: NonNullable<ManifestGeneratorSpec["ManifestOutputLocation"]>,
  job: { accountId: string; jobId: string },
  role: Authorizer,
  index: number,
) {
  const bucket = bucketOfArn(out.Bucket);
  const prefix = (out.ManifestPrefix ?? "").replace(/\/+$/, "");
  const base = `${prefix ? `${prefix}/` : ""}job-${job.jobId}`;
  const dataKey = `${base}/data/${String(index).padStart(5, "0")}-${crypto.randomUUID()}.csv.gz`;
  role.require(
    { action: "s3:PutObject", resource: s3Arn(bucket, dataKey) },
    { action: "s3:PutObject", resource: s3Arn(bucket, `${base}/manifest.json`) },
  );
  const home = ((await routeBuckets(ctx.gateways, [bucket], (id) => role.mayUse(id)))[bucket] ?? [])[0];
  if (!home) throw new UnrecoverableError("ManifestOutputNotFound", `no endpoint holds the bucket ${bucket}`);
  const { s3 } = ctx.gateways.get(home);
  const gzWriter = new FanoutWriter(
    [{ s3, bucket, key: dataKey }],
    ctx.settings.reportPartBytes,
    "application/gzip",
  );
  const gzip = new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  const input = gzip.writable.getWriter();
  const pump = (async () => {
    for await (const chunk of gzip.readable as unknown as AsyncIterable<Uint8Array>)
      await gzWriter.writeBytes(chunk);
  })();
  pump.catch(() => {});
  const encoder = new TextEncoder();
  return {
    write: (text: string) => input.write(encoder.encode(text)),
    abort: async () => {
      await input.abort().catch(() => {});
      await gzWriter.abort();
    },
    /** Finishes this invocation's csv.gz file. */
    close: async (): Promise<OutputFile> => {
      await input.close();
      await pump;
      const { bytes, md5 } = await gzWriter.finish();
      return { key: dataKey, size: bytes, MD5checksum: md5 };
    },
    /** Writes the manifest.json naming every file. */
    describe: async (sourceBucket: string, files: OutputFile[]): Promise<GeneratedManifest["descriptor"]> => {
      const doc = {
        sourceBucket,
        destinationBucket: out.Bucket,
        version: "2021-11-30",
        creationTimestamp: String(Date.now()),
        fileFormat: "CSV",
        fileSchema: "Bucket, Key",
        files,
      };
      const manifestKey = `${base}/manifest.json`;
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: manifestKey,
          Body: JSON.stringify(doc),
          ContentType: "application/json",
        }),
      );
      return {
        Format: "S3InventoryReport_CSV_20211130",
        Location: {
          ObjectArn: `arn:aws:s3:::${bucket}/${manifestKey}`,
          ETag: (put.ETag ?? "").replaceAll('"', ""),
        },
      };
    },
  };
}
