// The operation registry: from the job's Operation element to the code that runs it.
import { UnrecoverableError } from "../errors.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { checksumOperation } from "./checksum.ts";
import { copyOperation, replicateOperation } from "./copy.ts";
import { lambdaInvokeOperation } from "./lambda-invoke.ts";
import {
  deleteObjectOperation,
  deleteTaggingOperation,
  putAclOperation,
  putLegalHoldOperation,
  putRetentionOperation,
  updateEncryptionOperation,
} from "./object-state.ts";
import { restoreOperation } from "./restore.ts";
import { surveyOperation } from "./survey.ts";
import { putTaggingOperation } from "./tagging.ts";
import type { Operation } from "./types.ts";

export function operationFor(spec: OperationSpec): Operation {
  if (spec.S3InitiateRestoreObject) return restoreOperation(spec.S3InitiateRestoreObject);
  if (spec.S3PutObjectTagging) return putTaggingOperation(spec.S3PutObjectTagging);
  if (spec.S3DeleteObjectTagging) return deleteTaggingOperation();
  if (spec.S3PutObjectAcl) return putAclOperation(spec.S3PutObjectAcl);
  if (spec.S3PutObjectRetention) return putRetentionOperation(spec.S3PutObjectRetention);
  if (spec.S3PutObjectLegalHold) return putLegalHoldOperation(spec.S3PutObjectLegalHold);
  if (spec.S3UpdateObjectEncryption) return updateEncryptionOperation(spec.S3UpdateObjectEncryption);
  if (spec.S3PutObjectCopy) return copyOperation(spec.S3PutObjectCopy);
  if (spec.S3ReplicateObject) return replicateOperation();
  if (spec.S3ComputeObjectChecksum) return checksumOperation(spec.S3ComputeObjectChecksum);
  if (spec.LambdaInvoke) return lambdaInvokeOperation(spec.LambdaInvoke);
  if (spec.S3DeleteObject) return deleteObjectOperation();
  if (spec.S3SurveyObject) return surveyOperation(spec.S3SurveyObject);
  throw new UnrecoverableError("UnsupportedOperation", "the job names no operation this release runs");
}
