// What each gateway can do, known before a job runs. Gateways differ (Garage has no tagging,
// MinIO refuses a canned public-read ACL, RGW's dbstore backend answers a CopyObject with 200 and
// writes nothing), so s3batch probes each one in a scratch prefix of a bucket the operator names
// (`probeBucket` in the endpoint document): it writes a scratch object and tries each capability
// on it, and reads back what must have changed. The table is kept in the internal bucket
// (`gateways/<id>.json`, with when it was probed), refreshed at start and then every
// S3BATCH_PROBE_SECONDS; the gateways route and `s3batch gateways` show it, and the survey counts
// the tasks that would fail on a gateway lacking what their operation needs, with the gateway's
// own code. Nothing outside the scratch prefix is touched; its objects are removed afterwards.
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  RestoreObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import type { JsonStore } from "../store/json-store.ts";
import type { Logger } from "../util/logger.ts";
import type { EndpointClient } from "./clients.ts";

export const CAPABILITIES = [
  "tagging",
  "acl",
  "versioning",
  "objectLock",
  "restore",
  "copy",
  "uploadPartCopy",
  "conditionalWrites",
  "checksums",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** One capability's finding: whether it works, and the gateway's own answer when it does not. */
export interface Finding {
  ok: boolean;
  http?: number;
  code?: string;
  note?: string;
}

export interface GatewayCapabilities {
  endpointId: string;
  probedAt: string;
  bucket: string;
  capabilities: Partial<Record<Capability, Finding>>;
  /** Why there is no table: no probe bucket configured, or the probe could not run. */
  error?: string;
}

const SCRATCH = ".s3batch-probe/";
export const capabilitiesKey = (endpointId: string) => `gateways/${endpointId}.json`;

const refusal = (err: unknown): Finding => {
  if (err instanceof S3ServiceException)
    return { ok: false, http: err.$metadata.httpStatusCode ?? 500, code: err.name };
  return { ok: false, http: 500, code: (err as Error)?.name ?? "Error" };
};

async function attempt(f: () => Promise<Finding | undefined>): Promise<Finding> {
  try {
    return (await f()) ?? { ok: true };
  } catch (err) {
    return refusal(err);
  }
}

/** Probes one gateway in `bucket`'s scratch prefix. */
export async function probeGateway(
  s3: S3Client,
  endpointId: string,
  bucket: string,
): Promise<GatewayCapabilities> {
  const base = `${SCRATCH}${Date.now()}-${crypto.randomUUID().slice(0, 8)}`;
  const key = `${base}/object`;
  const body = new TextEncoder().encode("s3batch capability probe");
  const made = [key];
  const found: GatewayCapabilities["capabilities"] = {};
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    found.tagging = await attempt(async () => {
      const TagSet = [{ Key: "s3batch-probe", Value: "1" }];
      await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet } }));
      const got = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
      return JSON.stringify(got.TagSet ?? []) === JSON.stringify(TagSet)
        ? undefined
        : { ok: false, http: 200, code: "EffectNotApplied", note: "answered 200 and kept no tag" };
    });
    found.acl = await attempt(async () => {
      await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: key, ACL: "private" }));
      return undefined;
    });
    found.versioning = await attempt(async () => {
      const v = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
      return { ok: true, note: v.Status ? `bucket ${v.Status.toLowerCase()}` : "bucket unversioned" };
    });
    found.objectLock = await attempt(async () => {
      try {
        const lock = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
        return {
          ok: true,
          note:
            lock.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled"
              ? "bucket locked"
              : "bucket not locked",
        };
      } catch (err) {
        // No configuration on this bucket: the gateway knows what one is.
        if (err instanceof S3ServiceException && /ObjectLockConfigurationNotFound/.test(err.name))
          return { ok: true, note: "bucket not locked" };
        throw err;
      }
    });
    found.restore = await attempt(async () => {
      try {
        await s3.send(
          new RestoreObjectCommand({
            Bucket: bucket,
            Key: key,
            RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: "Bulk" } },
          }),
        );
      } catch (err) {
        // Restoring an object that is not archived is refused as such: the gateway can restore.
        if (err instanceof S3ServiceException && err.name === "InvalidObjectState") return undefined;
        throw err;
      }
      return undefined;
    });
    found.copy = await attempt(async () => {
      const copy = `${base}/copy`;
      made.push(copy);
      await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: copy, CopySource: `${bucket}/${key}` }));
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: copy }));
        return head.ContentLength === body.length
          ? undefined
          : { ok: false, http: 200, code: "EffectNotApplied", note: "the copy has another size" };
      } catch {
        return { ok: false, http: 200, code: "EffectNotApplied", note: "answered 200 and wrote no copy" };
      }
    });
    found.uploadPartCopy = await attempt(async () => {
      const target = `${base}/parts`;
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: target }));
      try {
        await s3.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: target,
            UploadId: created.UploadId,
            PartNumber: 1,
            CopySource: `${bucket}/${key}`,
            CopySourceRange: "bytes=0-3",
          }),
        );
      } finally {
        await s3
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: target, UploadId: created.UploadId }))
          .catch(() => {});
      }
      return undefined;
    });
    found.conditionalWrites = await attempt(async () => {
      const twice = `${base}/conditional`;
      made.push(twice);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: twice, Body: body, IfNoneMatch: "*" }));
      try {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: twice, Body: body, IfNoneMatch: "*" }));
      } catch (err) {
        if (err instanceof S3ServiceException && [409, 412].includes(err.$metadata.httpStatusCode ?? 0))
          return undefined;
        throw err;
      }
      return {
        ok: false,
        http: 200,
        code: "PreconditionIgnored",
        note: "a second If-None-Match: * PUT answered 200",
      };
    });
    found.checksums = await attempt(async () => {
      const summed = `${base}/checksum`;
      made.push(summed);
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: summed, Body: body, ChecksumAlgorithm: "CRC32" }),
      );
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: summed, ChecksumMode: "ENABLED" }),
      );
      return head.ChecksumCRC32
        ? undefined
        : { ok: false, http: 200, code: "ChecksumNotKept", note: "the object's CRC32 is not returned" };
    });
  } catch (err) {
    const r = refusal(err);
    return {
      endpointId,
      probedAt: new Date().toISOString(),
      bucket,
      capabilities: found,
      error: `the scratch object could not be written: ${r.http} ${r.code}`,
    };
  } finally {
    for (const k of made) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k })).catch(() => {});
  }
  return { endpointId, probedAt: new Date().toISOString(), bucket, capabilities: found };
}

/** The last table of every configured gateway (or why there is none). */
export async function capabilityTables(
  store: JsonStore,
  gateways: readonly EndpointClient[],
): Promise<GatewayCapabilities[]> {
  return Promise.all(
    gateways.map(
      async (g) =>
        (await store.get<GatewayCapabilities>(capabilitiesKey(g.endpoint.id)))?.value ?? {
          endpointId: g.endpoint.id,
          probedAt: "",
          bucket: g.endpoint.probeBucket ?? "",
          capabilities: {},
          error: g.endpoint.probeBucket ? "not probed yet" : "no probeBucket configured for this gateway",
        },
    ),
  );
}

const FAILED_PROBE_AGAIN_MS = 60_000;

/**
 * Probes every gateway with a probe bucket whose table is older than `maxAgeMs` (or missing), and
 * stores the tables. Cheap when they are fresh: one read per gateway.
 */
export async function refreshCapabilities(
  store: JsonStore,
  gateways: readonly EndpointClient[],
  maxAgeMs: number,
): Promise<void> {
  await Promise.all(
    gateways.map(async (g) => {
      const bucket = g.endpoint.probeBucket;
      if (!bucket) return;
      const current = await store.get<GatewayCapabilities>(capabilitiesKey(g.endpoint.id));
      // A probe that could not run (the bucket not made yet, the gateway away) is tried again soon.
      const fresh = current?.value.error ? Math.min(maxAgeMs, FAILED_PROBE_AGAIN_MS) : maxAgeMs;
      if (current && current.ageMs < fresh && current.value.bucket === bucket) return;
      const table = await probeGateway(g.s3, g.endpoint.id, bucket);
      await store.putBytes(capabilitiesKey(g.endpoint.id), JSON.stringify(table), "application/json");
    }),
  );
}

/** The capability an operation needs of the gateway it runs on, if one of the probed ones. */
export function capabilityOf(operation: string): Capability | undefined {
  switch (operation) {
    case "S3PutObjectTagging":
    case "S3DeleteObjectTagging":
      return "tagging";
    case "S3PutObjectAcl":
      return "acl";
    case "S3InitiateRestoreObject":
      return "restore";
    case "S3PutObjectRetention":
    case "S3PutObjectLegalHold":
      return "objectLock";
    case "S3PutObjectCopy":
    case "S3UpdateObjectEncryption":
      return "copy";
    default:
      return undefined;
  }
}

/**
 * Keeps the tables fresh from a long-lived process or a warm Lambda instance: at most one check a
 * minute, never failing its caller (a gateway that cannot be probed keeps its last table).
 */
export function capabilityRefresher(ctx: {
  store: JsonStore;
  gateways: { all(): EndpointClient[] };
  settings: { probeSeconds: number };
  log: Logger;
}): () => void {
  let last = 0;
  let running = false;
  return () => {
    if (running || Date.now() - last < 60_000) return;
    last = Date.now();
    running = true;
    refreshCapabilities(ctx.store, ctx.gateways.all(), ctx.settings.probeSeconds * 1000)
      .catch((err) => ctx.log.warn("capability probe failed", { message: (err as Error).message }))
      .finally(() => {
        running = false;
      });
  };
}
