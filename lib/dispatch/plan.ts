// The job's plan, written once by dispatch: where the manifest is, how many rows it has, the
// shards (row ranges with byte offsets) and which endpoints each shard's buckets live on.
import { type Authorizer, s3Arn } from "../auth/authorize.ts";
import type { Context } from "../context.ts";
import { type Routing, routeBuckets } from "../endpoints/routing.ts";
import { UnrecoverableError } from "../errors.ts";
import type { GeneratedManifestDescriptor, JobRecord } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { newAttempt } from "../leases/lease.ts";
import { type GeneratorScan, generateManifest } from "../manifest/generator.ts";
import { type InventoryScan, normalizeInventory } from "../manifest/inventory.ts";
import { bucketOfArn, locateManifest, type ManifestObject } from "../manifest/location.ts";
import { manifestRowBatches } from "../manifest/read-rows.ts";
import { operationFor } from "../operations/index.ts";
import { reportKeys } from "../report/layout.ts";
import type { JsonStore } from "../store/json-store.ts";

export interface Shard {
  index: number;
  firstRow: number;
  rowCount: number;
  startByte: number;
  endByte: number;
  /** Endpoints holding at least one of this shard's buckets, in configured order. */
  endpoints: string[];
}

/** plan.json: what every step needs to know about the job's work, without the shard list. */
export interface Plan {
  schema: 2;
  manifest: ManifestObject;
  totalRows: number;
  shardCount: number;
  /** Shards × the endpoints each runs on: the children poll waits for. */
  childCount: number;
  routing: Routing;
  /** Endpoints that hold the report bucket: the report is written to each. */
  reportEndpoints: string[];
  /** Where a ManifestGenerator job's manifest was written out (EnableManifestOutput). */
  generatedManifest?: GeneratedManifestDescriptor;
}

/** Plans read lately: plan.json is written once and never changes, so a process reads each once. */
const plans = new Map<string, Plan>();

/** The job's plan, once dispatch wrote it (undefined before). */
export async function planOf(store: JsonStore, ref: JobRef): Promise<Plan | undefined> {
  const key = paths.plan(ref);
  const known = plans.get(key);
  if (known) return known;
  const plan = (await store.get<Plan>(key))?.value;
  if (plan) {
    if (plans.size >= 256) plans.delete(plans.keys().next().value as string);
    plans.set(key, plan);
  }
  return plan;
}

/** shards.json: the shards in row order (read by startJob and the merge). */
export interface ShardList {
  shards: Shard[];
}

interface ShardDraft {
  firstRow: number;
  rowCount: number;
  startByte: number;
  endByte: number;
  buckets: string[];
}

/** How far the manifest scan got: dispatch's checkpoint when it hands over mid-manifest. */
export interface PlanScan {
  manifest: ManifestObject;
  generatedManifest?: GeneratedManifestDescriptor;
  nextByte: number;
  nextRow: number;
  shardRows: number;
  drafts: ShardDraft[];
  buckets: string[];
}

/** A manifest being normalized (an inventory) or generated, handed over mid-way. */
export interface SourceScan {
  generator?: GeneratorScan;
  inventory?: InventoryScan & { located: ManifestObject };
}

export type PlanOutcome =
  | { plan: Plan; shards: ShardList }
  | { handover: PlanScan }
  | { sourceHandover: SourceScan };

/**
 * Reads the manifest once (resuming `saved` when given): validates and counts rows, cuts shards,
 * routes buckets. When `budget` fires mid-manifest it stops at a batch boundary and returns the
 * scan so far, for the next invocation to resume.
 */
export async function buildPlan(
  ctx: Context,
  job: JobRecord,
  budget: AbortSignal,
  saved: PlanScan | undefined,
  savedSource?: SourceScan,
): Promise<PlanOutcome> {
  const { settings } = ctx;
  const role = ctx.auth.forJob(job);
  let scan = saved;
  if (!scan) {
    const source = await sourceManifest(ctx, job, role, budget, savedSource);
    if ("sourceHandover" in source) return source;
    scan = { ...source, nextByte: 0, nextRow: 0, shardRows: settings.shardRows, drafts: [], buckets: [] };
  }
  const manifest = scan.manifest;
  let shardRows = scan.shardRows;
  let drafts = scan.drafts.map((d) => ({ ...d, buckets: new Set(d.buckets) }));
  const buckets = new Map<string, string>(scan.buckets.map((b) => [b, b]));
  let totalRows = scan.nextRow;
  let nextByte = scan.nextByte;
  const span = { startByte: scan.nextByte, endByte: manifest.size, firstRow: scan.nextRow };
  const batches = manifestRowBatches(ctx, manifest, job.request.Manifest, span);
  for await (const batch of batches) {
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
        if (ctx.auth.isInternal(row.bucket))
          throw new UnrecoverableError(
            "InvalidManifestContent",
            `manifest row ${index + 1} names a bucket that belongs to s3batch`,
          );
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
      nextByte = end;
    }
    if (budget.aborted && nextByte < manifest.size) {
      await batches.return(undefined);
      return {
        handover: {
          ...scan,
          nextByte,
          nextRow: totalRows,
          shardRows,
          drafts: drafts.map((d) => ({ ...d, buckets: [...d.buckets] })),
          buckets: [...buckets.keys()],
        },
      };
    }
  }
  // A bucket the operation writes to (a copy's target) is routed with the manifest's: children
  // look it up in the plan.
  const target = operationFor(job.request.Operation).targetBucket;
  const routing = await routeBuckets(
    ctx.gateways,
    target ? new Set([...buckets.keys(), target]) : buckets.keys(),
    (id) => role.mayUse(id),
  );
  const reportEndpoints = await reportTargets(ctx, job, routing, role);
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
    plan: {
      schema: 2,
      manifest,
      totalRows,
      shardCount: shards.length,
      childCount: shards.reduce((n, s) => n + s.endpoints.length, 0),
      routing,
      reportEndpoints,
      ...(scan.generatedManifest ? { generatedManifest: scan.generatedManifest } : {}),
    },
    shards: { shards },
  };
}

/**
 * The CSV manifest the job runs on: the user's, or one dispatch writes from an inventory's
 * manifest.json or from a ManifestGenerator's listing.
 */
async function sourceManifest(
  ctx: Context,
  job: JobRecord,
  role: Authorizer,
  budget: AbortSignal,
  saved: SourceScan | undefined,
): Promise<
  | { manifest: ManifestObject; generatedManifest?: GeneratedManifestDescriptor }
  | { sourceHandover: SourceScan }
> {
  // The report is checked first: a job whose report cannot be written fails before it runs.
  reportAllowed(job, role);
  const spec = job.request.Manifest;
  const generator = job.request.ManifestGenerator?.S3JobManifestGenerator;
  const key = paths.normalizedManifest(job);
  const carry = paths.normalizeCarry(job, newAttempt());
  if (generator) {
    const out = await generateManifest(ctx, generator, job, key, role, budget, saved?.generator, carry);
    if ("handover" in out) return { sourceHandover: { generator: out.handover } };
    return out.descriptor
      ? { manifest: out.manifest, generatedManifest: out.descriptor }
      : { manifest: out.manifest };
  }
  if (!spec) throw new UnrecoverableError("ManifestNotFound", "the job has no manifest");
  const located = saved?.inventory?.located ?? (await locateManifest(ctx, spec, role));
  if (spec.Spec.Format === "S3InventoryReport_CSV_20161130") {
    const out = await normalizeInventory(ctx, located, key, role, budget, saved?.inventory, carry);
    if ("handover" in out) return { sourceHandover: { inventory: { ...out.handover, located } } };
    return { manifest: out };
  }
  return { manifest: located };
}

/** The role must be allowed to write every object of the report (AccessDeniedError otherwise). */
export function reportAllowed(job: JobRecord, role: Authorizer): void {
  const report = job.request.Report;
  if (!report.Enabled || !report.Bucket) return;
  const bucket = bucketOfArn(report.Bucket);
  const keys = reportKeys(report.Prefix, job.jobId);
  const written = [keys.manifest, keys.results("failed")];
  if (report.ReportScope !== "FailedTasksOnly") written.push(keys.results("succeeded"));
  role.require(...written.map((key) => ({ action: "s3:PutObject", resource: s3Arn(bucket, key) })));
}

type OpenDraft = Omit<ShardDraft, "buckets"> & { buckets: Set<string> };

/** Halves the shard count by joining neighbours; shards stay contiguous in rows and bytes. */
function coalesce(drafts: OpenDraft[]): OpenDraft[] {
  const out: OpenDraft[] = [];
  for (let i = 0; i < drafts.length; i += 2) {
    const a = drafts[i] as OpenDraft;
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

async function reportTargets(
  ctx: Context,
  job: JobRecord,
  routing: Routing,
  role: Authorizer,
): Promise<string[]> {
  const report = job.request.Report;
  if (!report.Enabled || !report.Bucket) return [];
  const bucket = bucketOfArn(report.Bucket);
  const held =
    routing[bucket] ?? (await routeBuckets(ctx.gateways, [bucket], (id) => role.mayUse(id)))[bucket] ?? [];
  if (held.length === 0) {
    throw new UnrecoverableError("ReportBucketNotFound", `no endpoint holds the report bucket ${bucket}`);
  }
  return held;
}

/** A string that shares no storage with the one it copies. */
const ownCopy = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));
