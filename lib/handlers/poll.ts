// The poll function's handler factory: the reconciler of every job, which also consumes the
// four dead-letter queues (a record's eventSourceARN says which queue it came from).
import type { Context } from "../context.ts";
import { capabilityRefresher } from "../endpoints/capabilities.ts";
import type { SqsRecord } from "../queue/partial-batch.ts";
import { processPartialResponse } from "../queue/partial-batch.ts";
import { deadLetter } from "../reconcile/dead-letter.ts";
import { pollJob } from "../reconcile/reconcile.ts";
import { anyMessage, type PipelineMessage, pollMessage } from "../steps/messages.ts";
import { delayRedelivery, parseRecord, recordBadMessage, runRecord, type SqsHandler } from "./sqs-handler.ts";

export const pollHandler = (ctx: Context): SqsHandler => {
  // Poll runs every few seconds wherever s3batch runs: it keeps the gateways' capability tables fresh.
  const refresh = capabilityRefresher(ctx);
  return (event, invocation) => {
    refresh();
    return processPartialResponse(
      event,
      (record) =>
        ctx.queue.isDeadLetter(record.eventSourceARN)
          ? deadLettered(ctx, record)
          : runRecord(ctx, pollMessage, pollJob, record, invocation),
      ctx.log,
      delayRedelivery(ctx),
    );
  };
};

function deadLettered(ctx: Context, record: SqsRecord): Promise<void> {
  const msg = parseRecord(anyMessage, record) as PipelineMessage | undefined;
  if (!msg) return recordBadMessage(ctx, record, "a dead letter that is not a pipeline message");
  return deadLetter(ctx, msg, Number(record.attributes?.ApproximateReceiveCount ?? 0));
}
