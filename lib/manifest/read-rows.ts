// The one way the pipeline reads a manifest: a ranged GET of a span of it, split into lines with
// their byte offsets, numbered, and parsed into task rows. Dispatch reads the whole object; each
// child and the merge read one shard's span.
import type { Context } from "../context.ts";
import type { ManifestSpec } from "../s3control/create-job-schema.ts";
import { readLines } from "./lines.ts";
import { type ManifestObject, readManifestRange } from "./location.ts";
import { manifestFields, numberRows, parseRow, type TaskRow } from "./rows.ts";

/** Longest manifest line accepted: a row is a bucket, a 1,024-byte key encoded, a version ID. */
const MAX_LINE_BYTES = 16 * 1024;

export interface ManifestSpan {
  startByte: number;
  endByte: number;
  /** The row number of the span's first row. */
  firstRow: number;
}

export async function* manifestRows(
  ctx: Pick<Context, "gateways">,
  manifest: ManifestObject,
  spec: ManifestSpec,
  span: ManifestSpan,
): AsyncGenerator<{ row: TaskRow; start: number; end: number }> {
  const fields = manifestFields(spec);
  const stream = await readManifestRange(ctx, manifest, span.startByte, span.endByte);
  for await (const { line, index } of numberRows(
    readLines(stream, span.startByte, MAX_LINE_BYTES),
    span.firstRow,
  )) {
    yield { row: parseRow(line, index, fields), start: line.start, end: line.end };
  }
}
