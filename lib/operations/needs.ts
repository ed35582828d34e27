// What each operation needs of its job's role, per task: the IAM actions AWS documents for the
// S3 calls the operation makes, on the row's object (or its version), and for a copy on the
// target object too. lib/auth/authorize.ts decides; this table only says what to ask.
// docs/roles.md has the same table for operators.
import type { Access } from "../auth/authorize.ts";
import { s3Arn } from "../auth/authorize.ts";
import { bucketOfArn } from "../manifest/location.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";

/** `s3:<Verb>Object<Rest>` or, for a row naming a version, `s3:<Verb>ObjectVersion<Rest>`. */
const versioned = (row: TaskRow, verb: string, rest = "") =>
  row.versionId ? `s3:${verb}ObjectVersion${rest}` : `s3:${verb}Object${rest}`;

/** The accesses one task of `op` needs on `row` (none: an internal operation with no effect). */
export function taskNeeds(op: OperationSpec): (row: TaskRow) => Access[] {
  const on = (row: TaskRow, ...actions: string[]) => {
    const resource = s3Arn(row.bucket, row.key);
    const context = row.versionId ? { "s3:versionid": row.versionId } : undefined;
    return actions.map((action) => ({ action, resource, ...(context ? { context } : {}) }));
  };
  if (op.S3PutObjectTagging) return (row) => on(row, versioned(row, "Put", "Tagging"));
  if (op.S3DeleteObjectTagging) return (row) => on(row, versioned(row, "Delete", "Tagging"));
  if (op.S3PutObjectAcl) {
    const acl = op.S3PutObjectAcl.AccessControlPolicy?.CannedAccessControlList;
    return (row) =>
      on(row, versioned(row, "Put", "Acl")).map((a) =>
        acl ? { ...a, context: { ...a.context, "s3:x-amz-acl": acl } } : a,
      );
  }
  if (op.S3PutObjectRetention) {
    const bypass = op.S3PutObjectRetention.BypassGovernanceRetention === true;
    return (row) => on(row, "s3:PutObjectRetention", ...(bypass ? ["s3:BypassGovernanceRetention"] : []));
  }
  if (op.S3PutObjectLegalHold) return (row) => on(row, "s3:PutObjectLegalHold");
  if (op.S3InitiateRestoreObject) return (row) => on(row, "s3:RestoreObject");
  if (op.S3ComputeObjectChecksum) return (row) => on(row, versioned(row, "Get"));
  if (op.S3DeleteObject) return (row) => on(row, versioned(row, "Delete"));
  // Re-encrypting copies the object onto itself.
  if (op.S3UpdateObjectEncryption) return (row) => on(row, versioned(row, "Get"), "s3:PutObject");
  // A replica is the same bucket and key on the other gateways holding the bucket.
  if (op.S3ReplicateObject)
    return (row) => on(row, versioned(row, "Get"), versioned(row, "Get", "Tagging"), "s3:ReplicateObject");
  if (op.S3PutObjectCopy) return copyNeeds(op.S3PutObjectCopy);
  if (op.LambdaInvoke) {
    const fn = { action: "lambda:InvokeFunction", resource: op.LambdaInvoke.FunctionArn };
    return () => [fn];
  }
  return () => [];
}

function copyNeeds(spec: NonNullable<OperationSpec["S3PutObjectCopy"]>): (row: TaskRow) => Access[] {
  const targetBucket = spec.TargetResource ? bucketOfArn(spec.TargetResource) : undefined;
  const copiesTags = !spec.NewObjectTagging;
  const writes = [
    "s3:PutObject",
    ...(spec.NewObjectTagging?.length || copiesTags ? ["s3:PutObjectTagging"] : []),
    ...(spec.CannedAccessControlList || spec.AccessControlGrants?.length ? ["s3:PutObjectAcl"] : []),
    ...(spec.ObjectLockMode || spec.ObjectLockRetainUntilDate ? ["s3:PutObjectRetention"] : []),
    ...(spec.ObjectLockLegalHoldStatus ? ["s3:PutObjectLegalHold"] : []),
  ];
  const prefix = spec.TargetKeyPrefix ?? "";
  return (row) => {
    const source = s3Arn(row.bucket, row.key);
    const target = s3Arn(targetBucket ?? row.bucket, prefix + row.key);
    const context = row.versionId ? { "s3:versionid": row.versionId } : undefined;
    return [
      { action: versioned(row, "Get"), resource: source, ...(context ? { context } : {}) },
      ...(copiesTags
        ? [{ action: versioned(row, "Get", "Tagging"), resource: source, ...(context ? { context } : {}) }]
        : []),
      ...writes.map((action) => ({ action, resource: target })),
    ];
  };
}
