// Effects verified. Some gateways answer 200 and do nothing (RGW's dbstore backend acknowledges a
// CopyObject and writes no copy); a job tagged `s3batch:verify=true` (`s3batch create --verify`)
// reads every effect back after its task succeeded: the tags set, the copy present with the
// source's size, the ACL, retention or hold in place, the object or version gone, the restore
// under way. A task whose effect is not there is a failed row `EffectNotApplied` naming the
// gateway. The read-back costs a request per task per gateway; checksums and Lambda invocations
// have nothing to read back.
import {
  GetObjectAclCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { JobRecord } from "../jobs/model.ts";
import { bucketOfArn } from "../manifest/location.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { objectOf, objectPresent, outcomeFromError, type TaskContext, type TaskOutcome } from "./types.ts";

export const VERIFY_TAG = "s3batch:verify";

export const wantsVerification = (job: Pick<JobRecord, "tags">) =>
  job.tags.some((t) => t.Key === VERIFY_TAG && t.Value.toLowerCase() === "true");

/** Reads back one task's effect; a reason when it is not there. */
type Check = (t: TaskContext, row: TaskRow) => Promise<string | undefined>;

const sameTags = (a: { Key?: string; Value?: string }[], b: { Key?: string; Value?: string }[]) => {
  const key = (x: { Key?: string; Value?: string }[]) =>
    x
      .map((t) => `${t.Key}=${t.Value}`)
      .sort()
      .join("&");
  return key(a) === key(b);
};

async function headSize(s3: S3Client, bucket: string, key: string): Promise<number | undefined> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
  } catch (err) {
    if (outcomeFromError(err).kind === "missing") return undefined;
    throw err;
  }
}

/** The check for an operation, or undefined when it has nothing to read back. */
function checkFor(op: OperationSpec): Check | undefined {
  if (op.S3PutObjectTagging) {
    const want = op.S3PutObjectTagging.TagSet ?? [];
    return async ({ s3 }, row) => {
      const got = await s3.send(new GetObjectTaggingCommand(objectOf(row)));
      return sameTags(got.TagSet ?? [], want) ? undefined : "its tags are not the job's";
    };
  }
  if (op.S3DeleteObjectTagging)
    return async ({ s3 }, row) => {
      const got = await s3.send(new GetObjectTaggingCommand(objectOf(row)));
      return (got.TagSet ?? []).length === 0 ? undefined : "it still has tags";
    };
  if (op.S3PutObjectLegalHold) {
    const want = op.S3PutObjectLegalHold.LegalHold.Status;
    return async ({ s3 }, row) => {
      const got = await s3.send(new GetObjectLegalHoldCommand(objectOf(row)));
      return got.LegalHold?.Status === want ? undefined : `its legal hold is not ${want}`;
    };
  }
  if (op.S3PutObjectRetention) {
    const want = op.S3PutObjectRetention.Retention;
    return async ({ s3 }, row) => {
      const got = await s3.send(new GetObjectRetentionCommand(objectOf(row)));
      const until = got.Retention?.RetainUntilDate?.getTime();
      const same =
        got.Retention?.Mode === want.Mode &&
        (!want.RetainUntilDate || Math.abs((until ?? 0) - Date.parse(want.RetainUntilDate)) < 1000);
      return same ? undefined : "its retention is not the job's";
    };
  }
  if (op.S3PutObjectAcl) {
    const canned = op.S3PutObjectAcl.AccessControlPolicy?.CannedAccessControlList;
    return async ({ s3 }, row) => {
      const got = await s3.send(new GetObjectAclCommand(objectOf(row)));
      const grants = got.Grants ?? [];
      if (!canned) return grants.length > 0 ? undefined : "it has no grant";
      const publicRead = grants.some(
        (g) => /AllUsers$/.test(g.Grantee?.URI ?? "") && g.Permission === "READ",
      );
      if (canned === "public-read" || canned === "public-read-write")
        return publicRead ? undefined : "it is not readable by everyone";
      if (canned === "private") return publicRead ? "it is still readable by everyone" : undefined;
      return undefined;
    };
  }
  if (op.S3InitiateRestoreObject)
    return async ({ s3 }, row) => {
      const head = await s3.send(new HeadObjectCommand(objectOf(row)));
      return head.Restore ? undefined : "no restore is under way";
    };
  if (op.S3DeleteObject)
    return async ({ s3 }, row) => ((await objectPresent(s3, row)) ? "it is still there" : undefined);
  if (op.S3UpdateObjectEncryption) {
    const kms = op.S3UpdateObjectEncryption.ObjectEncryption["SSE-KMS"].KMSKeyArn;
    return async ({ s3 }, row) => {
      const head = await s3.send(new HeadObjectCommand(objectOf(row)));
      return head.ServerSideEncryption === "aws:kms" &&
        (head.SSEKMSKeyId ?? kms).endsWith(kms.split("/").pop() ?? "")
        ? undefined
        : "it is not encrypted with the job's key";
    };
  }
  if (op.S3PutObjectCopy) {
    const spec = op.S3PutObjectCopy;
    return async (t, row) => {
      const bucket = spec.TargetResource ? bucketOfArn(spec.TargetResource) : row.bucket;
      const holders = t.routing[bucket] ?? [];
      const home = holders.includes(t.endpointId) ? t.endpointId : holders[0];
      if (!home) return undefined;
      const source = await headSize(t.s3, row.bucket, row.key);
      const copy = await headSize(t.gateways.get(home).s3, bucket, (spec.TargetKeyPrefix ?? "") + row.key);
      if (copy === undefined) return `the copy on ${home} is not there`;
      return source === undefined || copy === source
        ? undefined
        : `the copy on ${home} is not the source's size`;
    };
  }
  if (op.S3ReplicateObject)
    return async (t, row) => {
      const source = await headSize(t.s3, row.bucket, row.key);
      for (const id of (t.routing[row.bucket] ?? []).filter((e) => e !== t.endpointId)) {
        const replica = await headSize(t.gateways.get(id).s3, row.bucket, row.key);
        if (replica === undefined) return `the replica on ${id} is not there`;
        if (source !== undefined && replica !== source)
          return `the replica on ${id} is not the source's size`;
      }
      return undefined;
    };
  return undefined;
}

/**
 * The verifier of a job's operation: a succeeded outcome whose effect is not there becomes a
 * failed `EffectNotApplied`; a read-back the gateway fails is that failure (retried as any is).
 */
export function verifierFor(
  op: OperationSpec,
): ((t: TaskContext, row: TaskRow, outcome: TaskOutcome) => Promise<TaskOutcome>) | undefined {
  const check = checkFor(op);
  if (!check) return undefined;
  return async (t, row, outcome) => {
    if (outcome.kind !== "succeeded") return outcome;
    let why: string | undefined;
    try {
      why = await check(t, row);
    } catch (err) {
      const read = outcomeFromError(err);
      if (read.kind === "failed" && read.cause !== "final") return read;
      why = read.kind === "failed" ? `it cannot be read back (${read.code})` : "the object is not there";
    }
    if (!why) return outcome;
    return {
      kind: "failed",
      http: 500,
      code: "EffectNotApplied",
      message: `${t.endpointId} answered success, but reading back: ${why}`,
      cause: "final",
    };
  };
}
