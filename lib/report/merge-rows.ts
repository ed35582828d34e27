// The merge's core, free of I/O: for each manifest row in order, which endpoints found the object
// (their valid bitmaps, and the OR of them all) and what happened there (a k-way merge over each
// endpoint's succeeded and failed parts, all sorted by row index), folded into exactly one
// report row. Rows come in batches: the cursors read ahead through a batch's last row once, and
// the batch is then merged without waiting.
import type { Routing } from "../endpoints/routing.ts";
import { RetryableError } from "../errors.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { ReportRow } from "./layout.ts";
import type { PartEntry } from "./part-cursor.ts";

export interface RowSet {
  has(row: number): boolean;
}

export interface PartReader {
  readThrough(row: number): Promise<void>;
  take(row: number): PartEntry | undefined;
}

/** One endpoint's view of a shard: found rows and the cursors over its outcomes. */
export interface ChildView {
  endpointId: string;
  bitmap: RowSet | undefined;
  succeeded: PartReader;
  failed: PartReader;
}

export interface ShardView {
  /** In configured endpoint order. */
  children: readonly ChildView[];
  /** The OR of the children's bitmaps: rows found on some endpoint. */
  found: RowSet;
}

/** Yields one batch of report rows per batch of input rows, in input order. */
export async function* mergeRows(
  batches: AsyncIterable<readonly TaskRow[]>,
  shard: ShardView,
  routing: Routing,
): AsyncGenerator<ReportRow[]> {
  for await (const rows of batches) {
    const last = rows.at(-1);
    if (!last) continue;
    await Promise.all(
      shard.children.flatMap((c) => [c.succeeded.readThrough(last.index), c.failed.readThrough(last.index)]),
    );
    yield rows.map((row) => rowResult(row, shard, routing));
  }
}

const NO_BUCKET = "The specified bucket does not exist on any endpoint";
const NO_KEY = "The specified key does not exist on any endpoint";

function rowResult(row: TaskRow, shard: ShardView, routing: Routing): ReportRow {
  const { bucket, rawKey: key, versionId } = row;
  if (!shard.found.has(row.index)) {
    const noBucket = (routing[bucket] ?? []).length === 0;
    return {
      bucket,
      key,
      versionId,
      status: "failed",
      http: 404,
      code: noBucket ? "NoSuchBucket" : "NoSuchKey",
      message: noBucket ? NO_BUCKET : NO_KEY,
    };
  }
  let success: PartEntry | undefined;
  let failures: (PartEntry & { endpointId: string })[] | undefined;
  for (const c of shard.children) {
    if (!c.bitmap?.has(row.index)) continue;
    const ok = c.succeeded.take(row.index);
    if (ok) {
      success ??= ok;
      continue;
    }
    const failed = c.failed.take(row.index);
    if (!failed)
      throw new RetryableError(`row ${row.index} is in ${c.endpointId}'s bitmap but in none of its parts`);
    failures ??= [];
    failures.push({ ...failed, endpointId: c.endpointId });
  }
  const first = failures?.[0];
  if (!first) {
    if (!success)
      throw new RetryableError(`row ${row.index} is in the OR of the bitmaps but in none of them`);
    return { bucket, key, versionId, status: "succeeded", http: 200, code: "", message: success.message };
  }
  return {
    bucket,
    key,
    versionId,
    status: "failed",
    http: first.http,
    code: first.code,
    message: (failures ?? []).map((f) => `endpoint ${f.endpointId}: ${f.message}`).join("; "),
  };
}
