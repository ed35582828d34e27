// SQS → child: run the job's operation over one shard on one endpoint.
import { runChild } from "../lib/children/run-child.ts";
import type { Context } from "../lib/context.ts";
import { fromEnv } from "../lib/lambda.ts";
import { childMessage } from "../lib/queue/messages.ts";
import { sqsHandler } from "../lib/queue/sqs-handler.ts";

export const makeChildHandler = (ctx: Context) => sqsHandler(ctx, childMessage, runChild);
export const handler = fromEnv("child", makeChildHandler);
