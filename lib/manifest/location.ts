// Finding the manifest object on the gateways and reading byte ranges of it. The manifest's
// bucket may exist on several gateways; the object is read from the first (in configured order)
// that holds it with the ETag the job names, and every later read is pinned to that ETag.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type Authorizer, s3Arn } from "../auth/authorize.ts";
import type { Context } from "../context.ts";
import { notHeldHere } from "../endpoints/routing.ts";
import { RetryableError, UnrecoverableError } from "../errors.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";
import type { ManifestSpec } from "../s3control/create-job-schema.ts";

/** The endpoint id of a manifest s3batch wrote itself, in the internal bucket on the control endpoint. */
export const CONTROL_ENDPOINT = "@control";

export interface ManifestObject {
  /** A gateway, or CONTROL_ENDPOINT for a manifest normalized from an inventory or generated. */
  endpointId: string;
  bucket: string;
  key: string;
  versionId?: string;
  etag: string;
  size: number;
  /** The columns of a normalized manifest; a user's CSV manifest has its Spec.Fields. */
  fields?: ("Ignore" | "Bucket" | "Key" | "VersionId")[];
}

const unquote = (etag: string) => etag.replace(/^W\//, "").replace(/^"|"$/g, "");

/** The bucket name of a bucket ARN, `arn:aws:s3:::bucket` (validated at CreateJob). */
export function bucketOfArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(":") + 1);
}

/** Splits `arn:aws:s3:::bucket/key` into bucket and key. */
export function parseObjectArn(arn: string): { bucket: string; key: string } {
  const m = /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(arn);
  if (!m?.[1] || !m[2])
    throw new UnrecoverableError("ManifestNotFound", "the manifest ARN does not name an object");
  return { bucket: m[1], key: m[2] };
}

/**
 * Finds the manifest object, as the job's role reads it (s3:GetObject, or s3:GetObjectVersion for a
 * version, on the gateways the role may use); UnrecoverableError when the role may not read it or
 * no gateway holds it with that ETag.
 */
export async function locateManifest(
  ctx: Context,
  spec: ManifestSpec,
  role: Authorizer,
): Promise<ManifestObject> {
  const { bucket, key } = parseObjectArn(spec.Location.ObjectArn);
  role.require({
    action: spec.Location.ObjectVersionId ? "s3:GetObjectVersion" : "s3:GetObject",
    resource: s3Arn(bucket, key),
  });
  const wanted = unquote(spec.Location.ETag);
  let mismatch = false;
  for (const gw of ctx.gateways.all().filter((g) => role.mayUse(g.endpoint.id))) {
    try {
      const head = await withEndpointRetry(gw.availability, () =>
        gw.s3.send(
          new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: spec.Location.ObjectVersionId }),
        ),
      );
      if (unquote(head.ETag ?? "") !== wanted) {
        mismatch = true;
        continue;
      }
      return {
        endpointId: gw.endpoint.id,
        bucket,
        key,
        ...(spec.Location.ObjectVersionId ? { versionId: spec.Location.ObjectVersionId } : {}),
        etag: head.ETag ?? "",
        size: head.ContentLength ?? 0,
      };
    } catch (err) {
      if (notHeldHere(err)) continue;
      throw new RetryableError(`reading the manifest from ${gw.endpoint.id} failed`, { cause: err });
    }
  }
  throw new UnrecoverableError(
    "ManifestNotFound",
    mismatch
      ? `the manifest ${bucket}/${key} does not have the ETag ${wanted}`
      : `no endpoint holds the manifest ${bucket}/${key}`,
  );
}

/** Streams bytes [start, end) of the manifest. */
export async function readManifestRange(
  ctx: Pick<Context, "gateways" | "store">,
  m: ManifestObject,
  start: number,
  end: number,
): Promise<ReadableStream<Uint8Array>> {
  if (end <= start) return new ReadableStream({ start: (c) => c.close() });
  const get = (s3: S3Client) =>
    s3.send(
      new GetObjectCommand({
        Bucket: m.bucket,
        Key: m.key,
        VersionId: m.versionId,
        IfMatch: m.etag,
        Range: `bytes=${start}-${end - 1}`,
      }),
    );
  const gw = m.endpointId === CONTROL_ENDPOINT ? undefined : ctx.gateways.get(m.endpointId);
  const out = gw ? await withEndpointRetry(gw.availability, () => get(gw.s3)) : await get(ctx.store.s3);
  if (!out.Body) throw new RetryableError("the manifest read returned no body");
  return out.Body.transformToWebStream();
}
