// Manifest rows of the S3BatchOperations_CSV_20180820 format: columns named by Spec.Fields,
// keys URL-encoded. Each non-blank line is one task; its index is the task's row number.
import { UnrecoverableError } from "../errors.ts";
import type { ManifestSpec } from "../s3control/create-job-schema.ts";
import { csvField, parseCsvLine } from "./csv.ts";
import { type Line, utf8Length } from "./lines.ts";

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

export function manifestFields(spec: ManifestSpec | undefined): Field[] {
  return spec?.Spec.Fields && spec.Spec.Fields.length > 0 ? spec.Spec.Fields : ["Bucket", "Key"];
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
  let wantsVersion = false;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f === "Bucket") bucket = cells[i] ?? "";
    else if (f === "Key") rawKey = cells[i] ?? "";
    else if (f === "VersionId") {
      wantsVersion = true;
      versionId = cells[i] || undefined;
    }
  }
  if (bucket !== lastBucket) {
    if (!BUCKET.test(bucket)) {
      if (index === 0 && /^bucket$/i.test(bucket))
        throw invalid(index, "it is a header row; S3BatchOperations_CSV_20180820 manifests have none");
      throw invalid(index, "the bucket name is not valid");
    }
    lastBucket = bucket;
  }
  let key = rawKey;
  // Keys are URL-encoded as S3 Inventory writes them: "+" is a space, a literal plus is %2B.
  if (rawKey.includes("%") || rawKey.includes("+")) {
    try {
      key = decodeURIComponent(rawKey.replaceAll("+", " "));
    } catch {
      throw invalid(index, "the key is not URL-encoded correctly");
    }
  }
  if (key.length === 0) throw invalid(index, "the key is empty");
  // Under 342 UTF-16 units a key cannot reach 1,025 UTF-8 bytes.
  if (key.length > MAX_KEY_BYTES / 3 && utf8Length(key) > MAX_KEY_BYTES)
    throw invalid(index, `the key is over ${MAX_KEY_BYTES} bytes`);
  if (wantsVersion && !versionId) throw invalid(index, "version IDs must be given for all rows or none");
  return versionId ? { index, bucket, rawKey, key, versionId } : { index, bucket, rawKey, key };
}

/** The bucket name last found valid: most manifests name a few buckets over and over. */
let lastBucket = "";

export interface ManifestEntry {
  row: TaskRow;
  /** Byte offsets of the row's line, terminator included. */
  start: number;
  end: number;
}

const isBlank = (text: string) => text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === "");

/** Parses a batch of lines, skipping blank ones; rows are numbered from `firstIndex`. */
export function parseLines(
  lines: readonly Line[],
  firstIndex: number,
  fields: readonly Field[],
): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  let index = firstIndex;
  for (const line of lines) {
    if (isBlank(line.text)) continue;
    out.push({ row: parseRow(line, index++, fields), start: line.start, end: line.end });
  }
  return out;
}

/** A manifest row as the merge needs it: its number and its first three report columns. */
export interface EchoRow {
  index: number;
  /** `Bucket,Key,VersionId` as the report writes them (CSV-quoted where needed). */
  echo: string;
}

/** A row's first three report columns, `Bucket,Key,VersionId`, CSV-quoted where needed. */
export const echoOf = (row: TaskRow) =>
  `${row.bucket},${csvField(row.rawKey)},${row.versionId ? csvField(row.versionId) : ""}`;

/**
 * Numbers a batch of lines and gives each row's echo, as `parseLines` would and `echoOf` after it.
 * Dispatch has validated every row of the manifest (pinned by its ETag), so a plain line of a
 * `Bucket,Key[,VersionId]` manifest is echoed as it is; any other goes through the parser.
 */
export function echoLines(lines: readonly Line[], firstIndex: number, fields: readonly Field[]): EchoRow[] {
  const plain =
    fields[0] === "Bucket" &&
    fields[1] === "Key" &&
    (fields.length === 2 || (fields.length === 3 && fields[2] === "VersionId"));
  const noVersion = fields.length === 2 ? "," : "";
  const out: EchoRow[] = [];
  let index = firstIndex;
  for (const line of lines) {
    if (isBlank(line.text)) continue;
    const echo =
      plain && !line.text.includes('"') ? line.text + noVersion : echoOf(parseRow(line, index, fields));
    out.push({ index: index++, echo });
  }
  return out;
}
