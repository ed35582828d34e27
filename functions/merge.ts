// SQS → merge: write the completion report and close the job.
import { mergeHandler } from "../lib/handlers/merge.ts";
import { fromEnv } from "../lib/lambda.ts";

export const handler = fromEnv("merge", mergeHandler);
