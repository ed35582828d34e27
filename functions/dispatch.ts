// SQS → dispatch: prepare a new job and start it.
import type { Context } from "../lib/context.ts";
import { dispatchJob } from "../lib/jobs/dispatch.ts";
import { fromEnv } from "../lib/lambda.ts";
import { dispatchMessage } from "../lib/queue/messages.ts";
import { sqsHandler } from "../lib/queue/sqs-handler.ts";

export const makeDispatchHandler = (ctx: Context) => sqsHandler(ctx, dispatchMessage, dispatchJob);
export const handler = fromEnv("dispatch", makeDispatchHandler);
