// The merge's core, free of I/O: for each manifest row in order, which endpoints found the object
// (their valid bitmaps) and what happened there (a k-way merge over each endpoint's succeeded and
// failed parts, all sorted by row index), folded into exactly one report row.
import type { Routing } from "../endpoints/routing.ts";
import { RetryableError } from "../errors.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { ReportRow } from "./layout.ts";
import type { PartEntry } from "./part-cursor.ts";

/** One endpoint's view of a shard: found rows and the cursors over its outcomes. */
export interface ChildView {
  endpointId: string;
  bitmap: { has(row: number): boolean } | undefined;
  succeeded: { take(row: number): Promise<PartEntry | undefined> };
  failed: { take(row: number): Promise<PartEntry | undefined> };
}

/** Yields one report row per input row, in input order. `children` are in configured endpoint order. */
export async function* mergeRows(
  rows: AsyncIterable<TaskRow>,
  children: readonly ChildView[],
  routing: Routing,
): AsyncGenerator<ReportRow> {
  for await (const row of rows) yield await rowResult(row, children, routing);
}

async function rowResult(row: TaskRow, children: readonly ChildView[], routing: Routing): Promise<ReportRow> {
  const base = {
    bucket: row.bucket,
    key: row.rawKey,
    ...(row.versionId ? { versionId: row.versionId } : {}),
  };
  const ran: (PartEntry & { endpointId: string; ok: boolean })[] = [];
  for (const c of children) {
    if (!c.bitmap?.has(row.index)) continue;
    const ok = await c.succeeded.take(row.index);
    const entry = ok ?? (await c.failed.take(row.index));
    if (!entry)
      throw new RetryableError(`row ${row.index} is in ${c.endpointId}'s bitmap but in none of its parts`);
    ran.push({ ...entry, endpointId: c.endpointId, ok: Boolean(ok) });
  }
  if (ran.length === 0) {
    const noBucket = (routing[row.bucket] ?? []).length === 0;
    return {
      ...base,
      status: "failed",
      http: 404,
      code: noBucket ? "NoSuchBucket" : "NoSuchKey",
      message: noBucket
        ? "The specified bucket does not exist on any endpoint"
        : "The specified key does not exist on any endpoint",
    };
  }
  const failures = ran.filter((r) => !r.ok);
  const first = failures[0];
  if (!first)
    return { ...base, status: "succeeded", http: 200, code: "", message: ran[0]?.message ?? "Successful" };
  return {
    ...base,
    status: "failed",
    http: first.http,
    code: first.code,
    message: failures.map((f) => `endpoint ${f.endpointId}: ${f.message}`).join("; "),
  };
}
