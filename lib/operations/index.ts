// The operation registry: from the job's Operation element to the code that runs it.
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { restoreOperation } from "./restore.ts";
import { putTaggingOperation } from "./tagging.ts";
import type { Operation } from "./types.ts";

export function operationFor(spec: OperationSpec): Operation {
  if (spec.S3InitiateRestoreObject) return restoreOperation(spec.S3InitiateRestoreObject);
  if (spec.S3PutObjectTagging) return putTaggingOperation(spec.S3PutObjectTagging);
  throw new Error("the job names no operation this release runs");
}
