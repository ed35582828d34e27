// SQS → poll: reconcile a running job with its children.
import type { Context } from "../lib/context.ts";
import { pollJob } from "../lib/jobs/reconcile.ts";
import { fromEnv } from "../lib/lambda.ts";
import { pollMessage } from "../lib/queue/messages.ts";
import { sqsHandler } from "../lib/queue/sqs-handler.ts";

export const makePollHandler = (ctx: Context) => sqsHandler(ctx, pollMessage, pollJob);
export const handler = fromEnv("poll", makePollHandler);
