// The merge function's handler factory: write the completion report and close the job.
import type { Context } from "../context.ts";
import { mergeJob } from "../merge/merge.ts";
import { mergeMessage } from "../steps/messages.ts";
import { type SqsHandler, sqsHandler } from "./sqs-handler.ts";

export const mergeHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, mergeMessage, mergeJob);
