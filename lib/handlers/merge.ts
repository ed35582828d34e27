// The merge function's handler factory: write the completion report and close the job.
import type { Context } from "../context.ts";
import { mergeMessage } from "../queue/messages.ts";
import { type SqsHandler, sqsHandler } from "../queue/sqs-handler.ts";
import { mergeJob } from "../report/merge.ts";

export const mergeHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, mergeMessage, mergeJob);
