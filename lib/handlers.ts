// The handler factories: one per deployed function, each over a Context. functions/*.ts wrap
// them for Lambda; the local runtime and the Deno runtime call the same ones. The poll function
// is the reconciler, so it also consumes the four dead-letter queues.
import { createApp } from "./api/app.ts";
import { runChild } from "./children/run-child.ts";
import type { Context } from "./context.ts";
import { dispatchJob } from "./jobs/dispatch.ts";
import { pollJob } from "./jobs/reconcile.ts";
import { deadLetter } from "./queue/dead-letter.ts";
import { childMessage, dispatchMessage, mergeMessage, pollMessage } from "./queue/messages.ts";
import { processPartialResponse } from "./queue/partial-batch.ts";
import { delayRedelivery, runRecord, type SqsHandler, sqsHandler } from "./queue/sqs-handler.ts";
import { mergeJob } from "./report/merge.ts";

export type { SqsHandler };

export const apiApp = (ctx: Context) => createApp(ctx);
export const dispatchHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, dispatchMessage, dispatchJob);
export const childHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, childMessage, runChild);
export const mergeHandler = (ctx: Context): SqsHandler => sqsHandler(ctx, mergeMessage, mergeJob);

/** Poll messages, and dead letters from any of the pipeline's DLQs. */
export const pollHandler =
  (ctx: Context): SqsHandler =>
  (event, invocation) =>
    processPartialResponse(
      event,
      (record) =>
        ctx.queue.isDeadLetter(record.eventSourceARN)
          ? deadLetter(ctx, record)
          : runRecord(ctx, pollMessage, pollJob, record, invocation),
      ctx.log,
      delayRedelivery(ctx),
    );
