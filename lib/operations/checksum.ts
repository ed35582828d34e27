// S3ComputeObjectChecksum: streams the object (on the first endpoint holding it) through a WASM
// hasher, so memory is one chunk whatever the object's size. FULL_OBJECT is the checksum of the
// content; COMPOSITE is S3's checksum of a multipart object: the checksum of the concatenated
// per-part checksums, suffixed "-<parts>" (a single-part object's is its full checksum). The
// result is the report row's ResultMessage, as JSON.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createCRC32, createCRC64, createMD5, createSHA1, createSHA256, type IHasher } from "hash-wasm";
import type { TaskRow } from "../manifest/rows.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { type Operation, objectOf, outcomeFromError } from "./types.ts";

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

async function digestOf(
  s3: S3Client,
  row: TaskRow,
  algorithm: ChecksumAlgorithm,
  ifMatch: string | undefined,
  part?: number,
): Promise<Uint8Array> {
  const hasher = await HASHERS[algorithm]();
  hasher.init();
  const out = await s3.send(
    new GetObjectCommand({
      ...objectOf(row),
      IfMatch: ifMatch,
      ...(part ? { PartNumber: part } : {}),
    }),
  );
  const body = out.Body?.transformToWebStream();
  if (body) for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) hasher.update(chunk);
  return hasher.digest("binary");
}

const base64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function checksumOperation(spec: ChecksumSpec): Operation {
  const algorithm = spec.ChecksumAlgorithm ?? "CRC64NVME";
  const type = spec.ChecksumType ?? "FULL_OBJECT";
  return {
    placement: "first",
    run: async ({ s3 }, row) => {
      try {
        const target = objectOf(row);
        // The object's own ETag pins every read; a HEAD of part 1 (whose ETag some gateways give
        // as the part's) only counts the parts.
        const head = await s3.send(new HeadObjectCommand(target));
        const parts =
          type === "COMPOSITE"
            ? ((await s3.send(new HeadObjectCommand({ ...target, PartNumber: 1 }))).PartsCount ?? 1)
            : 1;
        let digest: Uint8Array;
        let suffix = "";
        if (parts <= 1) digest = await digestOf(s3, row, algorithm, head.ETag);
        else {
          const outer = await HASHERS[algorithm]();
          outer.init();
          for (let p = 1; p <= parts; p++) outer.update(await digestOf(s3, row, algorithm, head.ETag, p));
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
        return outcomeFromError(err);
      }
    },
  };
}
