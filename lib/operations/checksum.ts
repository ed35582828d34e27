// S3ComputeObjectChecksum: streams the object (on the first endpoint holding it) through a WASM
// hasher, so memory is one chunk whatever the object's size. FULL_OBJECT is the checksum of the
// content; COMPOSITE is S3's checksum of a multipart object: the checksum of the concatenated
// per-part checksums, suffixed "-<parts>" (a single-part object's is its full checksum). The
// result is the report row's ResultMessage, as JSON. A checksum that outlives its step's budget
// records the hasher's state and hands over; the next attempt resumes it where it stopped.
import { GetObjectCommand, type GetObjectCommandOutput, HeadObjectCommand } from "@aws-sdk/client-s3";
import { createCRC32, createCRC64, createMD5, createSHA1, createSHA256, type IHasher } from "hash-wasm";
import type { TaskRow } from "../manifest/rows.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { HandOverError, type Operation, objectOf, outcomeFromError, type TaskContext } from "./types.ts";

type ChecksumSpec = NonNullable<OperationSpec["S3ComputeObjectChecksum"]>;
export type ChecksumAlgorithm = NonNullable<ChecksumSpec["ChecksumAlgorithm"]>;

const HASHERS: Record<ChecksumAlgorithm, () => Promise<IHasher>> = {
  CRC32: () => createCRC32(0xedb88320),
  CRC32C: () => createCRC32(0x82f63b78),
  CRC64NVME: () => createCRC64("9a6c9329ac4bc9b5"),
  SHA1: createSHA1,
  SHA256: createSHA256,
  MD5: createMD5,
};

/** How far a checksum got when its step handed over: resumed by the next attempt. */
interface ChecksumProgress {
  etag: string;
  /** The part being hashed (1 for a whole object). */
  part: number;
  /** Bytes of that part hashed, and the hasher's state after them (base64). */
  offset: number;
  state: string;
  /** COMPOSITE: the digests of the parts before (base64). */
  digests: string[];
}

const toB64 = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
};
const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/**
 * Hashes one part (or the whole object) from `from.offset`, pinned to the object's ETag. When the
 * signal fires mid-stream it records the hasher's state and the offset, and hands over.
 */
async function digestOf(
  t: TaskContext,
  row: TaskRow,
  algorithm: ChecksumAlgorithm,
  etag: string,
  part: number | undefined,
  from: { offset: number; state?: string },
  progress: Omit<ChecksumProgress, "part" | "offset" | "state">,
): Promise<Uint8Array> {
  const hasher = await HASHERS[algorithm]();
  hasher.init();
  if (from.state) hasher.load(fromB64(from.state));
  let offset = from.offset;
  const handOver = async () => {
    const saved: ChecksumProgress = { ...progress, part: part ?? 1, offset, state: toB64(hasher.save()) };
    await t.intents.record(row.index, { checksum: saved }, { progress: true });
    return new HandOverError(`the checksum of row ${row.index} stopped at byte ${offset}`);
  };
  if (t.signal.aborted) throw await handOver();
  let out: GetObjectCommandOutput;
  try {
    out = await t.s3.send(
      new GetObjectCommand({
        ...objectOf(row),
        IfMatch: etag,
        ...(part ? { PartNumber: part } : {}),
        ...(offset > 0 && !part ? { Range: `bytes=${offset}-` } : {}),
      }),
      { abortSignal: t.signal },
    );
  } catch (err) {
    if (t.signal.aborted) throw await handOver();
    throw err;
  }
  const body = out.Body?.transformToWebStream();
  try {
    if (body)
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        hasher.update(chunk);
        offset += chunk.length;
        if (t.signal.aborted) throw await handOver();
      }
  } catch (err) {
    await body?.cancel().catch(() => {});
    if (err instanceof HandOverError) throw err;
    if (t.signal.aborted) throw await handOver();
    throw err;
  }
  return hasher.digest("binary");
}

const base64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function checksumOperation(spec: ChecksumSpec): Operation {
  const algorithm = spec.ChecksumAlgorithm ?? "CRC64NVME";
  const type = spec.ChecksumType ?? "FULL_OBJECT";
  return {
    placement: "first",
    run: async (t, row) => {
      const { s3 } = t;
      try {
        const target = objectOf(row);
        // The object's own ETag pins every read; a HEAD of part 1 (whose ETag some gateways give
        // as the part's) only counts the parts.
        const head = await s3.send(new HeadObjectCommand(target));
        const etag = head.ETag ?? "";
        const parts =
          type === "COMPOSITE"
            ? ((await s3.send(new HeadObjectCommand({ ...target, PartNumber: 1 }))).PartsCount ?? 1)
            : 1;
        // Where an earlier attempt of this row stopped, if it was hashing this very object.
        const saved = t.intents.prior(row.index)?.checksum as ChecksumProgress | undefined;
        const resume = saved?.etag === etag ? saved : undefined;
        let digest: Uint8Array;
        let suffix = "";
        if (parts <= 1)
          digest = await digestOf(t, row, algorithm, etag, undefined, resume ?? { offset: 0 }, {
            etag,
            digests: [],
          });
        else {
          const digests = [...(resume?.digests ?? [])];
          for (let p = digests.length + 1; p <= parts; p++) {
            // A part is resumed from its start: a ranged read of one part is not a thing S3 offers.
            const d = await digestOf(t, row, algorithm, etag, p, { offset: 0 }, { etag, digests });
            digests.push(toB64(d));
          }
          const outer = await HASHERS[algorithm]();
          outer.init();
          for (const d of digests) outer.update(fromB64(d));
          digest = outer.digest("binary");
          suffix = `-${parts}`;
        }
        return {
          kind: "succeeded",
          message: JSON.stringify({
            checksumAlgorithm: algorithm,
            checksumType: type,
            checksum_base64: `${base64(digest)}${suffix}`,
            checksum_hex: hex(digest),
          }),
        };
      } catch (err) {
        if (err instanceof HandOverError) throw err;
        return outcomeFromError(err);
      }
    },
  };
}
