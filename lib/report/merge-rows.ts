// The merge's core, free of I/O: for each manifest row in order, which endpoints found the object
// (their valid bitmaps, and the OR of them all) and what happened there (a k-way merge over the
// endpoints' outcome lines, each sorted by row index), folded into exactly one report row. Rows come in batches: the cursors read ahead through a batch's last row once, and
// the batch is then merged without waiting.

import { DEFAULT_SUCCESS, type OutcomeEntry } from "../children/output.ts";
import type { Routing } from "../endpoints/routing.ts";
import { RetryableError } from "../errors.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { ReportRow } from "./layout.ts";

export interface RowSet {
  has(row: number): boolean;
}

export interface PartReader {
  readThrough(row: number): Promise<void>;
  take(row: number): OutcomeEntry | undefined;
}

/** One endpoint's view of a shard: found rows and the cursors over its outcomes. */
export interface ChildView {
  endpointId: string;
  bitmap: RowSet | undefined;
  /** Outcome lines: failures, and successes with a message of their own. */
  outcomes: PartReader;
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
    await Promise.all(shard.children.map((c) => c.outcomes.readThrough(last.index)));
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
  let message: string | undefined;
  let failures: (OutcomeEntry & { endpointId: string })[] | undefined;
  for (const c of shard.children) {
    if (!c.bitmap?.has(row.index)) continue;
    const entry = c.outcomes.take(row.index);
    if (!entry || entry.http === 200) {
      message ??= entry?.message ?? DEFAULT_SUCCESS;
      continue;
    }
    failures ??= [];
    failures.push({ ...entry, endpointId: c.endpointId });
  }
  const first = failures?.[0];
  if (!first) {
    if (message === undefined)
      throw new RetryableError(`row ${row.index} is in the OR of the bitmaps but in none of them`);
    return { bucket, key, versionId, status: "succeeded", http: 200, code: "", message };
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
