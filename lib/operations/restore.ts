// S3InitiateRestoreObject: asks the gateway to restore an archived object for ExpirationInDays.
import { RestoreObjectCommand } from "@aws-sdk/client-s3";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { inPlaceOperation, type Operation } from "./types.ts";

type RestoreSpec = NonNullable<OperationSpec["S3InitiateRestoreObject"]>;

// A restore already under way is what the task asked for: AWS counts it a success.
const ALREADY_DONE = ["RestoreAlreadyInProgress"];

export function restoreOperation(spec: RestoreSpec): Operation {
  const RestoreRequest = {
    ...(spec.ExpirationInDays !== undefined ? { Days: spec.ExpirationInDays } : {}),
    GlacierJobParameters: {
      Tier: spec.GlacierJobTier === "BULK" ? ("Bulk" as const) : ("Standard" as const),
    },
  };
  return inPlaceOperation(
    (s3, object) => s3.send(new RestoreObjectCommand({ ...object, RestoreRequest })),
    ALREADY_DONE,
  );
}
