// S3PutObjectCopy and S3ReplicateObject: run on the first endpoint holding the source object.
// A target bucket on the same gateway is copied to server-side; on another gateway, streamed.
import { HeadObjectCommand, type ObjectCannedACL } from "@aws-sdk/client-s3";
import { bucketOfArn } from "../manifest/location.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { s3Grants } from "./object-state.ts";
import { copyAcross, copyWithin, type SourceObject, type TargetParams } from "./transfer.ts";
import {
  HandOverError,
  type Operation,
  objectOf,
  outcomeFromError,
  SUCCESSFUL,
  type TaskContext,
  type TaskOutcome,
} from "./types.ts";

type CopySpec = NonNullable<OperationSpec["S3PutObjectCopy"]>;

/** Heads the source on this endpoint: absent means "missing here", as for every operation. */
async function headSource(t: TaskContext, row: TaskRow): Promise<SourceObject | TaskOutcome> {
  try {
    const head = await t.s3.send(new HeadObjectCommand(objectOf(row)));
    return {
      s3: t.s3,
      bucket: row.bucket,
      key: row.key,
      ...(row.versionId ? { versionId: row.versionId } : {}),
      head,
    };
  } catch (err) {
    return outcomeFromError(err);
  }
}

/** An error after the source was found is a failure, whatever its status (even a 404 of the target). */
function failure(err: unknown): TaskOutcome {
  const o = outcomeFromError(err);
  return o.kind === "missing"
    ? { kind: "failed", http: 404, code: "NoSuchBucket", message: "the target does not exist" }
    : o;
}

/** The S3 Control grants of a copy as S3's Grant* headers. */
function grantHeaders(spec: CopySpec): TargetParams {
  const by = new Map<string, string[]>();
  for (const g of s3Grants(spec.AccessControlGrants)) {
    const who = g.Grantee?.ID
      ? `id="${g.Grantee.ID}"`
      : g.Grantee?.EmailAddress
        ? `emailAddress="${g.Grantee.EmailAddress}"`
        : `uri="${g.Grantee?.URI}"`;
    by.set(g.Permission ?? "READ", [...(by.get(g.Permission ?? "READ") ?? []), who]);
  }
  const list = (p: string) => by.get(p)?.join(", ");
  return {
    GrantFullControl: list("FULL_CONTROL"),
    GrantRead: list("READ"),
    GrantReadACP: list("READ_ACP"),
    GrantWriteACP: list("WRITE_ACP"),
  };
}

export function copyParams(spec: CopySpec): TargetParams {
  const m = spec.NewObjectMetadata;
  const replace = spec.MetadataDirective === "REPLACE";
  const tags = spec.NewObjectTagging;
  return {
    MetadataDirective: replace ? "REPLACE" : "COPY",
    ...(replace && m
      ? {
          ContentType: m.ContentType,
          CacheControl: m.CacheControl,
          ContentDisposition: m.ContentDisposition,
          ContentEncoding: m.ContentEncoding,
          ContentLanguage: m.ContentLanguage,
          Expires: m.HttpExpiresDate ? new Date(m.HttpExpiresDate) : undefined,
          Metadata: Object.fromEntries((m.UserMetadata ?? []).map((e) => [e.key, e.value])),
          ...(m.SSEAlgorithm
            ? { ServerSideEncryption: m.SSEAlgorithm === "KMS" ? "aws:kms" : "AES256" }
            : {}),
        }
      : {}),
    ...(tags
      ? {
          TaggingDirective: "REPLACE",
          Tagging: tags.map((t) => `${encodeURIComponent(t.Key)}=${encodeURIComponent(t.Value)}`).join("&"),
        }
      : { TaggingDirective: "COPY" }),
    StorageClass: spec.StorageClass,
    ACL: spec.CannedAccessControlList as ObjectCannedACL | undefined,
    ...grantHeaders(spec),
    WebsiteRedirectLocation: spec.RedirectLocation,
    SSEKMSKeyId: spec.SSEAwsKmsKeyId,
    ...(spec.SSEAwsKmsKeyId ? { ServerSideEncryption: "aws:kms" as const } : {}),
    BucketKeyEnabled: spec.BucketKeyEnabled,
    ObjectLockMode: spec.ObjectLockMode,
    ObjectLockRetainUntilDate: spec.ObjectLockRetainUntilDate
      ? new Date(spec.ObjectLockRetainUntilDate)
      : undefined,
    ObjectLockLegalHoldStatus: spec.ObjectLockLegalHoldStatus,
    ChecksumAlgorithm: spec.ChecksumAlgorithm,
  };
}

/** 412 when the source's Last-Modified fails the copy's constraints. */
function preconditionFailure(spec: CopySpec, src: SourceObject): TaskOutcome | undefined {
  const modified = src.head.LastModified?.getTime() ?? 0;
  if (spec.ModifiedSinceConstraint && modified <= Date.parse(spec.ModifiedSinceConstraint))
    return {
      kind: "failed",
      http: 412,
      code: "PreconditionFailed",
      message: "not modified since ModifiedSinceConstraint",
    };
  if (spec.UnModifiedSinceConstraint && modified > Date.parse(spec.UnModifiedSinceConstraint))
    return {
      kind: "failed",
      http: 412,
      code: "PreconditionFailed",
      message: "modified since UnModifiedSinceConstraint",
    };
  return undefined;
}

export function copyOperation(spec: CopySpec): Operation {
  const params = copyParams(spec);
  const prefix = spec.TargetKeyPrefix ?? "";
  return {
    placement: "first",
    ...(spec.TargetResource ? { targetBucket: bucketOfArn(spec.TargetResource) } : {}),
    run: async (t, row) => {
      const src = await headSource(t, row);
      if ("kind" in src) return src;
      const refused = preconditionFailure(spec, src);
      if (refused) return refused;
      const bucket = spec.TargetResource ? bucketOfArn(spec.TargetResource) : row.bucket;
      const holders = t.routing[bucket] ?? [];
      const home = holders.includes(t.endpointId) ? t.endpointId : holders[0];
      if (!home)
        return {
          kind: "failed",
          http: 404,
          code: "NoSuchBucket",
          message: `no endpoint holds the target bucket ${bucket}`,
        };
      const sizes = {
        multipartThreshold: t.settings.copyMultipartThreshold,
        partBytes: t.settings.copyPartBytes,
      };
      const scope = { t, row, target: { endpointId: home, s3: t.gateways.get(home).s3 } };
      try {
        if (home === t.endpointId) await copyWithin(src, bucket, prefix + row.key, params, sizes, scope);
        else await copyAcross(src, bucket, prefix + row.key, params, sizes, scope);
        return SUCCESSFUL;
      } catch (err) {
        if (err instanceof HandOverError) throw err;
        return failure(err);
      }
    },
  };
}

/**
 * S3ReplicateObject in a federation: the first endpoint holding the object copies it (content,
 * metadata, tags, storage class) to the same bucket and key on every other endpoint holding the
 * bucket. See docs/operations.md.
 */
export function replicateOperation(): Operation {
  return {
    placement: "first",
    run: async (t, row) => {
      const src = await headSource(t, row);
      if ("kind" in src) return src;
      const targets = (t.routing[row.bucket] ?? []).filter((id) => id !== t.endpointId);
      const sizes = {
        multipartThreshold: t.settings.copyMultipartThreshold,
        partBytes: t.settings.copyPartBytes,
      };
      const params: TargetParams = {
        MetadataDirective: "COPY",
        TaggingDirective: "COPY",
        StorageClass: src.head.StorageClass,
      };
      const failed: string[] = [];
      let first: TaskOutcome | undefined;
      for (const id of targets) {
        try {
          const scope = { t, row, target: { endpointId: id, s3: t.gateways.get(id).s3 } };
          await copyAcross(src, row.bucket, row.key, params, sizes, scope);
        } catch (err) {
          if (err instanceof HandOverError) throw err;
          const o = failure(err);
          first ??= o;
          failed.push(`${id}: ${o.kind === "failed" ? o.message : ""}`);
        }
      }
      if (first?.kind === "failed") return { ...first, message: `replica failed on ${failed.join("; ")}` };
      return {
        kind: "succeeded",
        message: targets.length > 0 ? `Replicated to ${targets.join(", ")}` : "Successful",
      };
    },
  };
}
