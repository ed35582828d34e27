// S3PutObjectTagging: replaces the object's tag set.
import { PutObjectTaggingCommand } from "@aws-sdk/client-s3";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { type Operation, outcomeFromError, SUCCESSFUL } from "./types.ts";

type TaggingSpec = NonNullable<OperationSpec["S3PutObjectTagging"]>;

export function putTaggingOperation(spec: TaggingSpec): Operation {
  const TagSet = (spec.TagSet ?? []).map((t) => ({ Key: t.Key, Value: t.Value }));
  return {
    placement: "every",
    async run(s3, row) {
      try {
        await s3.send(
          new PutObjectTaggingCommand({
            Bucket: row.bucket,
            Key: row.key,
            VersionId: row.versionId,
            Tagging: { TagSet },
          }),
        );
        return SUCCESSFUL;
      } catch (err) {
        return outcomeFromError(err);
      }
    },
  };
}
