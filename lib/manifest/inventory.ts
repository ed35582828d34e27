// S3InventoryReport_CSV_20161130 manifests: the job's ObjectArn names an inventory's
// manifest.json, which lists gzipped CSV files (with their MD5s) whose columns its fileSchema
// names. Dispatch reads it once and writes a normalized CSV manifest (Bucket,Key[,VersionId],
// keys still URL-encoded) into the internal bucket: from there on the job is an ordinary CSV job,
// sharded by byte offsets and read by ranged GETs. Each data file is streamed (gunzip on the way)
// and its MD5 checked; a mismatch fails the job. An inventory of many files that outlives one
// invocation's budget hands over between two files.
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { createMD5 } from "hash-wasm";
import { z } from "zod";
import { type Authorizer, s3Arn } from "../auth/authorize.ts";
import type { Context } from "../context.ts";
import { FanoutWriter, type WriterState } from "../endpoints/fanout-writer.ts";
import { RetryableError, UnrecoverableError } from "../errors.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";
import { csvField, parseCsvLine } from "./csv.ts";
import { readLineBatches } from "./lines.ts";
import { CONTROL_ENDPOINT, type ManifestObject } from "./location.ts";

const MAX_INVENTORY_MANIFEST_BYTES = 10 * 1024 * 1024;
const MAX_LINE_BYTES = 16 * 1024;

const inventoryManifest = z.object({
  sourceBucket: z.string().min(3).max(63),
  destinationBucket: z.string().min(1).max(128),
  version: z.string().max(64).optional(),
  creationTimestamp: z.string().max(64).optional(),
  fileFormat: z.literal("CSV"),
  fileSchema: z.string().min(1).max(4096),
  files: z
    .array(
      z.object({
        key: z.string().min(1).max(1024),
        size: z.number().int().min(0),
        MD5checksum: z.string().regex(/^[0-9a-f]{32}$/i),
      }),
    )
    .min(1)
    .max(100_000),
});

const refuse = (why: string) => new UnrecoverableError("InvalidManifestContent", why);

/** A normalization that handed over between two data files. */
export interface InventoryScan {
  /** The first data file not yet read. */
  nextFile: number;
  /** The normalized manifest's upload (its unsent bytes in the internal bucket, `carry`). */
  writer: { state: WriterState; carry: string };
}

/**
 * Reads the inventory named by `source` and writes the normalized manifest at `key`; the role
 * must be allowed to read each data file. When `budget` fires it stops between two data files and
 * answers where it stands; `saved` resumes it.
 */
export async function normalizeInventory(
  ctx: Context,
  source: ManifestObject,
  key: string,
  role: Authorizer,
  budget: AbortSignal,
  saved: InventoryScan | undefined,
  carryKey: string,
): Promise<ManifestObject | { handover: InventoryScan }> {
  const gw = ctx.gateways.get(source.endpointId);
  const got = await withEndpointRetry(gw.availability, () =>
    gw.s3.send(
      new GetObjectCommand({
        Bucket: source.bucket,
        Key: source.key,
        VersionId: source.versionId,
        IfMatch: source.etag,
      }),
    ),
  );
  if ((got.ContentLength ?? 0) > MAX_INVENTORY_MANIFEST_BYTES)
    throw refuse(`the inventory manifest is over ${MAX_INVENTORY_MANIFEST_BYTES} bytes`);
  let doc: z.infer<typeof inventoryManifest>;
  try {
    doc = inventoryManifest.parse(JSON.parse((await got.Body?.transformToString()) ?? ""));
  } catch {
    throw refuse(
      "the inventory manifest.json is not a CSV inventory manifest (sourceBucket, fileFormat CSV, fileSchema, files)",
    );
  }
  const columns = doc.fileSchema.split(",").map((c) => c.trim());
  const at = (name: string) => columns.indexOf(name);
  const [bucketAt, keyAt, versionAt] = [at("Bucket"), at("Key"), at("VersionId")];
  if (bucketAt < 0 || keyAt < 0) throw refuse("the inventory's fileSchema has no Bucket or no Key");
  const dataBucket = doc.destinationBucket.slice(doc.destinationBucket.lastIndexOf(":") + 1);

  const targets = [{ s3: ctx.store.s3, bucket: ctx.settings.internalBucket, key }];
  let writer: FanoutWriter;
  if (saved) {
    const carry = await ctx.store.getBytes(saved.writer.carry);
    if (!carry) throw new RetryableError(`the normalization's saved part ${saved.writer.carry} is missing`);
    writer = await FanoutWriter.resume(targets, ctx.settings.reportPartBytes, saved.writer.state, carry.body);
  } else writer = new FanoutWriter(targets, ctx.settings.reportPartBytes);
  try {
    for (let index = saved?.nextFile ?? 0; index < doc.files.length; index++) {
      const file = doc.files[index] as (typeof doc.files)[number];
      if (budget.aborted && index > (saved?.nextFile ?? 0)) {
        const { state, unsent } = await writer.save();
        await ctx.store.putBytes(carryKey, unsent);
        return { handover: { nextFile: index, writer: { state, carry: carryKey } } };
      }
      role.require({ action: "s3:GetObject", resource: s3Arn(dataBucket, file.key) });
      const data = await withEndpointRetry(gw.availability, () =>
        gw.s3.send(new GetObjectCommand({ Bucket: dataBucket, Key: file.key })),
      );
      if (!data.Body) throw new RetryableError(`the inventory file ${file.key} has no body`);
      const md5 = await createMD5();
      md5.init();
      const gz = data.Body.transformToWebStream().pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            md5.update(chunk);
            c.enqueue(chunk);
          },
        }),
      );
      const csv = gz.pipeThrough(
        new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
      );
      for await (const lines of readLineBatches(csv, 0, MAX_LINE_BYTES)) {
        let text = "";
        for (const line of lines) {
          if (line.text === "") continue;
          const cells = parseCsvLine(line.text);
          if (!cells || cells.length !== columns.length)
            throw refuse(`a line of ${file.key} does not match the fileSchema's ${columns.length} columns`);
          const version = versionAt >= 0 ? `,${csvField(cells[versionAt] || "null")}` : "";
          text += `${csvField(cells[bucketAt] ?? "")},${csvField(cells[keyAt] ?? "")}${version}\n`;
        }
        if (text) await writer.write(text);
      }
      if (md5.digest("hex") !== file.MD5checksum.toLowerCase())
        throw refuse(`the inventory file ${file.key} does not match its MD5checksum`);
    }
    const { bytes } = await writer.finish();
    if (bytes === 0) throw refuse("the inventory lists no objects");
  } catch (err) {
    // A writer resumed from a handover keeps its upload: the scan resumes it again.
    if (!saved || err instanceof UnrecoverableError) await writer.abort();
    throw err;
  }
  const head = await ctx.store.s3.send(
    new HeadObjectCommand({ Bucket: ctx.settings.internalBucket, Key: key }),
  );
  return {
    endpointId: CONTROL_ENDPOINT,
    bucket: ctx.settings.internalBucket,
    key,
    etag: (head.ETag ?? "").replaceAll('"', ""),
    size: head.ContentLength ?? 0,
    fields: versionAt >= 0 ? ["Bucket", "Key", "VersionId"] : ["Bucket", "Key"],
  };
}
