// The child function's handler factory: run the job's operation over one shard on one endpoint.
import { runChild } from "../children/run-child.ts";
import type { Context } from "../context.ts";
import { childMessage } from "../steps/messages.ts";
import { type SqsHandler, sqsHandler } from "./sqs-handler.ts";

export const childHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, childMessage, runChild);
