// S3PutObjectTagging: replaces the object's tag set.
import { PutObjectTaggingCommand } from "@aws-sdk/client-s3";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { inPlaceOperation, type Operation } from "./types.ts";

type TaggingSpec = NonNullable<OperationSpec["S3PutObjectTagging"]>;

export function putTaggingOperation(spec: TaggingSpec): Operation {
  const Tagging = { TagSet: (spec.TagSet ?? []).map((t) => ({ Key: t.Key, Value: t.Value })) };
  return inPlaceOperation((s3, object) => s3.send(new PutObjectTaggingCommand({ ...object, Tagging })));
}
