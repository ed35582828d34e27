// The operations that change an object's state in place, on every endpoint that holds it:
// S3DeleteObjectTagging, S3PutObjectAcl, S3PutObjectRetention, S3PutObjectLegalHold,
// S3UpdateObjectEncryption and s3batch's S3DeleteObject. Each is one S3 call per endpoint.
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  type Grant,
  PutObjectAclCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
} from "@aws-sdk/client-s3";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import {
  inPlaceOperation,
  type Operation,
  objectOf,
  objectPresent,
  outcomeFromError,
  SUCCESSFUL,
} from "./types.ts";

type AclSpec = NonNullable<OperationSpec["S3PutObjectAcl"]>;
type RetentionSpec = NonNullable<OperationSpec["S3PutObjectRetention"]>;
type LegalHoldSpec = NonNullable<OperationSpec["S3PutObjectLegalHold"]>;
type EncryptionSpec = NonNullable<OperationSpec["S3UpdateObjectEncryption"]>;
type GrantSpec = NonNullable<NonNullable<AclSpec["AccessControlPolicy"]>["AccessControlList"]>["Grants"];

export function deleteTaggingOperation(): Operation {
  return inPlaceOperation((s3, object) => s3.send(new DeleteObjectTaggingCommand(object)));
}

/**
 * S3DeleteObject: a row with a VersionId deletes that version; one without deletes the object,
 * which on a versioned bucket adds a delete marker, as S3 does. S3 answers a delete of an absent
 * key with success, so the object is looked up first: where it is not, the row is missing there,
 * unless an earlier attempt recorded that it was about to delete it (the intent journal): then
 * that earlier delete is the row's success. Object Lock refusals are failures with the gateway's
 * code.
 */
export function deleteObjectOperation(): Operation {
  return {
    placement: "every",
    run: async ({ s3, intents }, row) => {
      try {
        if (!(await objectPresent(s3, row)))
          return intents.prior(row.index)?.delete ? SUCCESSFUL : { kind: "missing" };
        await intents.record(row.index, { delete: true });
        await s3.send(new DeleteObjectCommand(objectOf(row)));
        return SUCCESSFUL;
      } catch (err) {
        return outcomeFromError(err);
      }
    },
  };
}

/** S3 Control's grantee (TypeIdentifier id | emailAddress | uri) as S3's. */
export function s3Grants(grants: GrantSpec | undefined): Grant[] {
  return (grants ?? []).map((g) => {
    const type = g.Grantee?.TypeIdentifier;
    const id = g.Grantee?.Identifier;
    const Grantee =
      type === "emailAddress"
        ? { Type: "AmazonCustomerByEmail" as const, EmailAddress: id }
        : type === "uri"
          ? { Type: "Group" as const, URI: id }
          : { Type: "CanonicalUser" as const, ID: id, DisplayName: g.Grantee?.DisplayName };
    return { Grantee, Permission: g.Permission };
  });
}

export function putAclOperation(spec: AclSpec): Operation {
  const list = spec.AccessControlPolicy?.AccessControlList;
  const canned = spec.AccessControlPolicy?.CannedAccessControlList;
  const policy = list
    ? {
        AccessControlPolicy: {
          Owner: { ID: list.Owner.ID, DisplayName: list.Owner.DisplayName },
          Grants: s3Grants(list.Grants),
        },
      }
    : { ACL: canned };
  return inPlaceOperation((s3, object) => s3.send(new PutObjectAclCommand({ ...object, ...policy })));
}

export function putRetentionOperation(spec: RetentionSpec): Operation {
  // No Mode and no date: the retention is removed (only allowed with the governance bypass).
  const Retention =
    spec.Retention.Mode || spec.Retention.RetainUntilDate
      ? { Mode: spec.Retention.Mode, RetainUntilDate: new Date(spec.Retention.RetainUntilDate ?? 0) }
      : {};
  return inPlaceOperation((s3, object) =>
    s3.send(
      new PutObjectRetentionCommand({
        ...object,
        Retention,
        BypassGovernanceRetention: spec.BypassGovernanceRetention,
      }),
    ),
  );
}

export function putLegalHoldOperation(spec: LegalHoldSpec): Operation {
  const LegalHold = { Status: spec.LegalHold.Status };
  return inPlaceOperation((s3, object) => s3.send(new PutObjectLegalHoldCommand({ ...object, LegalHold })));
}

/** Re-encrypts the object with SSE-KMS by copying it onto itself, metadata and tags kept. */
export function updateEncryptionOperation(spec: EncryptionSpec): Operation {
  const kms = spec.ObjectEncryption["SSE-KMS"];
  return inPlaceOperation((s3, { Bucket, Key, VersionId }) =>
    s3.send(
      new CopyObjectCommand({
        Bucket,
        Key,
        CopySource: copySource(Bucket, Key, VersionId),
        MetadataDirective: "COPY",
        TaggingDirective: "COPY",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: kms?.KMSKeyArn,
        BucketKeyEnabled: kms?.BucketKeyEnabled,
      }),
    ),
  );
}

/** The x-amz-copy-source value: bucket/key URL-encoded, with the version when there is one. */
export function copySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  return versionId ? `${path}?versionId=${encodeURIComponent(versionId)}` : path;
}
