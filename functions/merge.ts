// SQS → merge: write the completion report and close the job.
import type { Context } from "../lib/context.ts";
import { fromEnv } from "../lib/lambda.ts";
import { mergeMessage } from "../lib/queue/messages.ts";
import { sqsHandler } from "../lib/queue/sqs-handler.ts";
import { mergeJob } from "../lib/report/merge.ts";

export const makeMergeHandler = (ctx: Context) => sqsHandler(ctx, mergeMessage, mergeJob);
export const handler = fromEnv("merge", makeMergeHandler);
