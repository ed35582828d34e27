// The merge's core, free of I/O: for each manifest row in order, which endpoints found the object
// (their valid bitmaps, and the OR of them all) and what happened there (a k-way merge over the
// endpoints' outcome lines, each sorted by row index), folded into exactly one report row.

import { DEFAULT_SUCCESS, type OutcomeEntry } from "../children/output.ts";
import type { Routing } from "../endpoints/routing.ts";
import { RetryableError } from "../errors.ts";
import { csvField } from "../manifest/csv.ts";
import type { EchoRow } from "../manifest/rows.ts";
import { ReportTally } from "../report/report-summary.ts";

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
  /** An exhausted child: from this row on, its rows did not run here and fail with `exhausted`. */
  exhaustedFrom?: number;
  /** A stopped child (a cancel): rows from this one on were not looked at here. */
  ranTo?: number;
  exhausted?: { http: number; code: string; message: string };
}

export interface ShardView {
  /** In configured endpoint order. */
  children: readonly ChildView[];
  /** The OR of the children's bitmaps: rows found on some endpoint. */
  found: RowSet;
  /** The first row an exhausted child did not run (Infinity when none is exhausted). */
  exhaustedFrom: number;
  /** "first": a task runs on one endpoint, so an exhausted one counts only if no other ran it. */
  placement: "every" | "first";
}

/** One batch's report text, per results file, in input order, and its failed rows' summary. */
export interface MergedBatch {
  succeeded: string;
  failed: string;
  succeededRows: number;
  failedRows: number;
  summary: ReportTally | undefined;
}

/**
 * The report text of one batch of rows (in order, all of one shard): the cursors read ahead
 * through the batch's last row once, then the batch is merged without waiting.
 */
export async function mergeBatch(
  rows: readonly EchoRow[],
  shard: ShardView,
  routing: Routing,
  observe?: RowObserver,
): Promise<MergedBatch> {
  const out: MergedBatch = { succeeded: "", failed: "", succeededRows: 0, failedRows: 0, summary: undefined };
  const last = rows.at(-1);
  if (!last) return out;
  await Promise.all(shard.children.map((c) => c.outcomes.readThrough(last.index)));
  for (const row of rows) mergeRow(row, shard, routing, out, observe);
  return out;
}

const NO_BUCKET = `failed,404,NoSuchBucket,The specified bucket does not exist on any endpoint\n`;
const NO_KEY = `failed,404,NoSuchKey,The specified key does not exist on any endpoint\n`;

/** The exhausted children that hold the row's bucket: the task did not run there. */
function exhaustedFor(row: EchoRow, shard: ShardView, routing: Routing, bucket: string) {
  if (row.index < shard.exhaustedFrom) return undefined;
  const holders = routing[bucket] ?? [];
  const out = shard.children.filter(
    (c) =>
      c.exhausted &&
      row.index >= (c.exhaustedFrom ?? Number.POSITIVE_INFINITY) &&
      holders.includes(c.endpointId),
  );
  return out.length > 0 ? out : undefined;
}

/** Sees each row with what every endpoint that found it said (a survey sums them). */
export type RowObserver = (
  bucket: string,
  seen: { endpointId: string; message: string | undefined }[],
) => void;

/** Appends the row's report line to `out`. */
function mergeRow(
  row: EchoRow,
  shard: ShardView,
  routing: Routing,
  out: MergedBatch,
  observe?: RowObserver,
): void {
  // Bucket names hold no comma, so the echo's first field is the bucket as it is.
  const bucket = row.echo.slice(0, row.echo.indexOf(","));
  const found = shard.found.has(row.index);
  let exhausted = exhaustedFor(row, shard, routing, bucket);
  // A task that runs once ran where it was found; only when it ran nowhere did exhaustion stop it.
  if (found && shard.placement === "first") exhausted = undefined;
  if (!found && !exhausted) {
    // Found nowhere. That is the row's outcome only if every endpoint that could hold it looked;
    // a row a stopped child never reached did not run, and a report holds only rows that ran.
    const holders = routing[bucket] ?? [];
    const looked = shard.children.every(
      (c) => (holders.length > 0 && !holders.includes(c.endpointId)) || row.index < (c.ranTo ?? Infinity),
    );
    if (!looked) return;
    observe?.(bucket, []);
    const noBucket = holders.length === 0;
    out.failed += `${row.echo},${noBucket ? NO_BUCKET : NO_KEY}`;
    out.failedRows++;
    out.summary ??= new ReportTally();
    out.summary.add("-", 404, noBucket ? "NoSuchBucket" : "NoSuchKey", row.echo);
    return;
  }
  let message: string | undefined;
  let succeededOn: string | undefined;
  const seen: { endpointId: string; message: string | undefined }[] = [];
  let failures: (OutcomeEntry & { endpointId: string })[] | undefined;
  for (const c of shard.children) {
    if (exhausted?.includes(c)) {
      failures ??= [];
      failures.push({
        row: row.index,
        ...(c.exhausted as NonNullable<ChildView["exhausted"]>),
        endpointId: c.endpointId,
      });
      continue;
    }
    if (!c.bitmap?.has(row.index)) continue;
    const entry = c.outcomes.take(row.index);
    if (!entry || entry.http === 200) seen.push({ endpointId: c.endpointId, message: entry?.message });
    if (!entry || entry.http === 200) {
      message ??= entry?.message ?? DEFAULT_SUCCESS;
      succeededOn ??= c.endpointId;
      continue;
    }
    failures ??= [];
    failures.push({ ...entry, endpointId: c.endpointId });
  }
  observe?.(bucket, seen);
  const first = failures?.[0];
  if (!first) {
    if (message === undefined)
      throw new RetryableError(`row ${row.index} is in the OR of the bitmaps but in none of them`);
    out.succeeded += `${row.echo},succeeded,200,,${message === DEFAULT_SUCCESS ? message : csvField(message)}\n`;
    out.succeededRows++;
    out.summary ??= new ReportTally();
    out.summary.succeeded(succeededOn ?? "-");
    return;
  }
  const text = (failures ?? []).map((f) => `endpoint ${f.endpointId}: ${f.message}`).join("; ");
  out.failed += `${row.echo},failed,${first.http},${csvField(first.code)},${csvField(text)}\n`;
  out.failedRows++;
  out.summary ??= new ReportTally();
  out.summary.add(first.endpointId, first.http, first.code, row.echo);
}
