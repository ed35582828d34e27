// S3InitiateRestoreObject: asks the gateway to restore an archived object for ExpirationInDays.
import { RestoreObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { type Operation, outcomeFromError, SUCCESSFUL } from "./types.ts";

type RestoreSpec = NonNullable<OperationSpec["S3InitiateRestoreObject"]>;

export function restoreOperation(spec: RestoreSpec): Operation {
  return {
    placement: "every",
    async run(s3, row) {
      try {
        await s3.send(
          new RestoreObjectCommand({
            Bucket: row.bucket,
            Key: row.key,
            VersionId: row.versionId,
            RestoreRequest: {
              ...(spec.ExpirationInDays !== undefined ? { Days: spec.ExpirationInDays } : {}),
              GlacierJobParameters: { Tier: spec.GlacierJobTier === "BULK" ? "Bulk" : "Standard" },
            },
          }),
        );
        return SUCCESSFUL;
      } catch (err) {
        // A restore already under way is what the task asked for: AWS counts it a success.
        if (err instanceof S3ServiceException && err.name === "RestoreAlreadyInProgress") return SUCCESSFUL;
        return outcomeFromError(err);
      }
    },
  };
}
