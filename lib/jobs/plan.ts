// The job's plan, written once by dispatch: where the manifest is, how many rows it has, the
// shards (row ranges with byte offsets) and which endpoints each shard's buckets live on.
import type { Context } from "../context.ts";
import { type Routing, routeBuckets } from "../endpoints/routing.ts";
import { UnrecoverableError } from "../errors.ts";
import { generateManifest } from "../manifest/generator.ts";
import { normalizeInventory } from "../manifest/inventory.ts";
import { bucketOfArn, locateManifest, type ManifestObject } from "../manifest/location.ts";
import { manifestRowBatches } from "../manifest/read-rows.ts";
import type { GeneratedManifestDescriptor, JobRecord } from "./model.ts";
import { paths } from "./paths.ts";

export interface Shard {
  index: number;
  firstRow: number;
  rowCount: number;
  startByte: number;
  endByte: number;
  /** Endpoints holding at least one of this shard's buckets, in configured order. */
  endpoints: string[];
}

export interface Plan {
  schema: 1;
  manifest: ManifestObject;
  totalRows: number;
  shards: Shard[];
  routing: Routing;
  /** Endpoints that hold the report bucket: the report is written to each. */
  reportEndpoints: string[];
  /** Where a ManifestGenerator job's manifest was written out (EnableManifestOutput). */
  generatedManifest?: GeneratedManifestDescriptor;
}

interface ShardDraft {
  firstRow: number;
  rowCount: number;
  startByte: number;
  endByte: number;
  buckets: Set<string>;
}

/** Reads the manifest once: validates and counts rows, cuts shards, routes buckets. */
export async function buildPlan(ctx: Context, job: JobRecord): Promise<Plan> {
  const { settings } = ctx;
  const { manifest, generatedManifest } = await sourceManifest(ctx, job);
  let shardRows = settings.shardRows;
  let drafts: ShardDraft[] = [];
  const buckets = new Map<string, string>();
  let totalRows = 0;
  const span = { startByte: 0, endByte: manifest.size, firstRow: 0 };
  for await (const batch of manifestRowBatches(ctx, manifest, job.request.Manifest, span))
    for (const { row, start, end } of batch) {
      const index = row.index;
      if (index >= settings.maxManifestRows) {
        throw new UnrecoverableError(
          "ManifestTooLarge",
          `the manifest has more than ${settings.maxManifestRows} rows`,
        );
      }
      // Bucket names are kept as copies of their own: a name sliced from a manifest chunk would
      // keep that whole chunk alive for as long as the plan is being built.
      let bucket = buckets.get(row.bucket);
      if (bucket === undefined) {
        if (buckets.size >= settings.maxManifestBuckets) {
          throw new UnrecoverableError(
            "ManifestTooLarge",
            `the manifest names more than ${settings.maxManifestBuckets} buckets`,
          );
        }
        bucket = ownCopy(row.bucket);
        buckets.set(bucket, bucket);
      }
      let last = drafts.at(-1);
      if (!last || last.rowCount >= shardRows) {
        if (drafts.length >= settings.maxShards) {
          drafts = coalesce(drafts);
          shardRows *= 2;
        }
        last = drafts.at(-1);
        if (!last || last.rowCount >= shardRows) {
          last = { firstRow: index, rowCount: 0, startByte: start, endByte: end, buckets: new Set() };
          drafts.push(last);
        }
      }
      last.rowCount++;
      last.endByte = end;
      last.buckets.add(bucket);
      totalRows = index + 1;
    }
  // A copy's target bucket is routed with the manifest's: children look it up in the plan.
  const target = job.request.Operation.S3PutObjectCopy?.TargetResource;
  const routing = await routeBuckets(
    ctx.gateways,
    target ? new Set([...buckets.keys(), bucketOfArn(target)]) : buckets.keys(),
  );
  const reportEndpoints = await reportTargets(ctx, job, routing);
  const order = ctx.gateways.all().map((g) => g.endpoint.id);
  const shards = drafts.map((d, index) => {
    const held = new Set([...d.buckets].flatMap((b) => routing[b] ?? []));
    return {
      index,
      firstRow: d.firstRow,
      rowCount: d.rowCount,
      startByte: d.startByte,
      endByte: d.endByte,
      endpoints: order.filter((id) => held.has(id)),
    };
  });
  return {
    schema: 1,
    manifest,
    totalRows,
    shards,
    routing,
    reportEndpoints,
    ...(generatedManifest ? { generatedManifest } : {}),
  };
}

/**
 * The CSV manifest the job runs on: the user's, or one dispatch writes from an inventory's
 * manifest.json or from a ManifestGenerator's listing.
 */
async function sourceManifest(
  ctx: Context,
  job: JobRecord,
): Promise<{ manifest: ManifestObject; generatedManifest?: GeneratedManifestDescriptor }> {
  const spec = job.request.Manifest;
  const generator = job.request.ManifestGenerator?.S3JobManifestGenerator;
  if (generator) {
    const out = await generateManifest(ctx, generator, job, paths.normalizedManifest(job));
    return out.descriptor
      ? { manifest: out.manifest, generatedManifest: out.descriptor }
      : { manifest: out.manifest };
  }
  if (!spec) throw new UnrecoverableError("ManifestNotFound", "the job has no manifest");
  const located = await locateManifest(ctx, spec);
  if (spec.Spec.Format === "S3InventoryReport_CSV_20161130")
    return { manifest: await normalizeInventory(ctx, located, paths.normalizedManifest(job)) };
  return { manifest: located };
}

/** Halves the shard count by joining neighbours; shards stay contiguous in rows and bytes. */
function coalesce(drafts: ShardDraft[]): ShardDraft[] {
  const out: ShardDraft[] = [];
  for (let i = 0; i < drafts.length; i += 2) {
    const a = drafts[i] as ShardDraft;
    const b = drafts[i + 1];
    out.push(
      b
        ? {
            firstRow: a.firstRow,
            rowCount: a.rowCount + b.rowCount,
            startByte: a.startByte,
            endByte: b.endByte,
            buckets: new Set([...a.buckets, ...b.buckets]),
          }
        : a,
    );
  }
  return out;
}

async function reportTargets(ctx: Context, job: JobRecord, routing: Routing): Promise<string[]> {
  const report = job.request.Report;
  if (!report.Enabled || !report.Bucket) return [];
  const bucket = bucketOfArn(report.Bucket);
  const held = routing[bucket] ?? (await routeBuckets(ctx.gateways, [bucket]))[bucket] ?? [];
  if (held.length === 0) {
    throw new UnrecoverableError("ReportBucketNotFound", `no endpoint holds the report bucket ${bucket}`);
  }
  return held;
}

/** A string that shares no storage with the one it copies. */
const ownCopy = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));
