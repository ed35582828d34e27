// The dispatch function's handler factory: prepare a new job and start it.
import type { Context } from "../context.ts";
import { dispatchJob } from "../dispatch/dispatch.ts";
import { dispatchMessage } from "../steps/messages.ts";
import { type SqsHandler, sqsHandler } from "./sqs-handler.ts";

export const dispatchHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, dispatchMessage, dispatchJob);
