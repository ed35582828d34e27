// The poll function's handler factory: the reconciler of every job, which also consumes the
// four dead-letter queues (a record's eventSourceARN says which queue it came from).
import type { Context } from "../context.ts";
import { capabilityRefresher } from "../endpoints/capabilities.ts";
import { pollJob } from "../jobs/reconcile.ts";
import { deadLetter } from "../queue/dead-letter.ts";
import { pollMessage } from "../queue/messages.ts";
import { processPartialResponse } from "../queue/partial-batch.ts";
import { delayRedelivery, runRecord, type SqsHandler } from "../queue/sqs-handler.ts";

export const pollHandler = (ctx: Context): SqsHandler => {
  // Poll runs every few seconds wherever s3batch runs: it keeps the gateways' capability tables fresh.
  const refresh = capabilityRefresher(ctx);
  return (event, invocation) => {
    refresh();
    return processPartialResponse(
      event,
      (record) =>
        ctx.queue.isDeadLetter(record.eventSourceARN)
          ? deadLetter(ctx, record)
          : runRecord(ctx, pollMessage, pollJob, record, invocation),
      ctx.log,
      delayRedelivery(ctx),
    );
  };
};
