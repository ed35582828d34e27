// The one way the pipeline reads a manifest: a ranged GET of a span of it, split into lines with
// their byte offsets, numbered, and parsed into task rows. Dispatch reads the whole object; each
// child and the merge read one shard's span.
import type { Context } from "../context.ts";
import type { ManifestSpec } from "../s3control/create-job-schema.ts";
import { type Line, readLineBatches } from "./lines.ts";
import { type ManifestObject, readManifestRange } from "./location.ts";
import { type EchoRow, echoLines, type ManifestEntry, manifestFields, parseLines } from "./rows.ts";

/** Longest manifest line accepted: a row is a bucket, a 1,024-byte key encoded, a version ID. */
const MAX_LINE_BYTES = 16 * 1024;

export interface ManifestSpan {
  startByte: number;
  endByte: number;
  /** The row number of the span's first row. */
  firstRow: number;
}

type Reader = Pick<Context, "gateways" | "store">;
type Field = ReturnType<typeof manifestFields>[number];

/**
 * Reads a span in batches (one per chunk read) and turns each batch of lines into rows numbered
 * from `span.firstRow`; `parse` skips blank lines, so the next batch starts after its last row.
 */
async function* spanBatches<T>(
  ctx: Reader,
  manifest: ManifestObject,
  spec: ManifestSpec | undefined,
  span: ManifestSpan,
  parse: (lines: Line[], firstIndex: number, fields: readonly Field[]) => T[],
): AsyncGenerator<T[]> {
  const fields = manifest.fields ?? manifestFields(spec);
  const stream = await readManifestRange(ctx, manifest, span.startByte, span.endByte);
  let next = span.firstRow;
  for await (const lines of readLineBatches(stream, span.startByte, MAX_LINE_BYTES)) {
    const rows = parse(lines, next, fields);
    next += rows.length;
    if (rows.length > 0) yield rows;
  }
}

/** Yields the span's rows, fully parsed, in batches. */
export const manifestRowBatches = (
  ctx: Reader,
  manifest: ManifestObject,
  spec: ManifestSpec | undefined,
  span: ManifestSpan,
): AsyncGenerator<ManifestEntry[]> => spanBatches(ctx, manifest, spec, span, parseLines);

/** Yields the span's rows one by one. */
export async function* manifestRows(
  ctx: Reader,
  manifest: ManifestObject,
  spec: ManifestSpec | undefined,
  span: ManifestSpan,
): AsyncGenerator<ManifestEntry> {
  for await (const batch of manifestRowBatches(ctx, manifest, spec, span)) yield* batch;
}

/** The span's rows as the merge needs them: number and echo (see `echoLines`). */
export const echoRowBatches = (
  ctx: Reader,
  manifest: ManifestObject,
  spec: ManifestSpec | undefined,
  span: ManifestSpan,
): AsyncGenerator<EchoRow[]> => spanBatches(ctx, manifest, spec, span, echoLines);
