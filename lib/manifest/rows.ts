// Manifest rows of the S3BatchOperations_CSV_20180820 format: columns named by Spec.Fields,
// keys URL-encoded. Each non-blank line is one task; its index is the task's row number.
import { UnrecoverableError } from "../errors.ts";
import type { ManifestSpec } from "../s3control/create-job-schema.ts";
import { parseCsvLine } from "./csv.ts";
import type { Line } from "./lines.ts";

export interface TaskRow {
  index: number;
  bucket: string;
  /** The key as the manifest spells it (URL-encoded): what the report echoes. */
  rawKey: string;
  key: string;
  versionId?: string;
}

export const MAX_KEY_BYTES = 1024;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

type Field = NonNullable<ManifestSpec["Spec"]["Fields"]>[number];

export function manifestFields(spec: ManifestSpec): Field[] {
  return spec.Spec.Fields && spec.Spec.Fields.length > 0 ? spec.Spec.Fields : ["Bucket", "Key"];
}

const invalid = (index: number, why: string) =>
  new UnrecoverableError("InvalidManifestContent", `manifest row ${index + 1}: ${why}`);

/** Parses one manifest line into a task row; throws UnrecoverableError for a malformed row. */
export function parseRow(line: Line, index: number, fields: readonly Field[]): TaskRow {
  const cells = parseCsvLine(line.text);
  if (!cells) throw invalid(index, "unbalanced quotes");
  if (cells.length !== fields.length)
    throw invalid(index, `expected ${fields.length} columns, found ${cells.length}`);
  let bucket = "";
  let rawKey = "";
  let versionId: string | undefined;
  fields.forEach((f, i) => {
    const cell = cells[i] ?? "";
    if (f === "Bucket") bucket = cell;
    else if (f === "Key") rawKey = cell;
    else if (f === "VersionId") versionId = cell;
  });
  if (!BUCKET.test(bucket)) throw invalid(index, "the bucket name is not valid");
  let key: string;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    throw invalid(index, "the key is not URL-encoded correctly");
  }
  if (key.length === 0) throw invalid(index, "the key is empty");
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES)
    throw invalid(index, `the key is over ${MAX_KEY_BYTES} bytes`);
  if (fields.includes("VersionId") && !versionId)
    throw invalid(index, "version IDs must be given for all rows or none");
  return { index, bucket, rawKey, key, ...(versionId ? { versionId } : {}) };
}

/** Numbers the non-blank lines of a stream, starting at `firstIndex`. */
export async function* numberRows(
  lines: AsyncIterable<Line>,
  firstIndex: number,
): AsyncGenerator<{ line: Line; index: number }> {
  let index = firstIndex;
  for await (const line of lines) {
    if (line.text.trim() === "") continue;
    yield { line, index: index++ };
  }
}
