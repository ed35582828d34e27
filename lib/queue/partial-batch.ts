// Lambda's SQS contract: a handler processes each record on its own and reports the ones that
// failed, so one bad message is redelivered without re-running its neighbours.
import { ConflictError, RetryableError } from "../errors.ts";
import type { Logger } from "../util/logger.ts";

export interface SqsRecord {
  messageId: string;
  body: string;
  receiptHandle?: string;
  /** The queue's ARN: which queue (or dead-letter queue) the record came from. */
  eventSourceARN?: string;
  attributes?: { ApproximateReceiveCount?: string };
}
export interface SqsEvent {
  Records: SqsRecord[];
}
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/**
 * Runs `handle` on every record concurrently; failures come back as batchItemFailures, after
 * `onFailure` (which sets when the message comes back) has seen them.
 */
export async function processPartialResponse(
  event: SqsEvent,
  handle: (record: SqsRecord) => Promise<void>,
  log: Logger,
  onFailure: (record: SqsRecord) => Promise<void> = async () => {},
): Promise<SqsBatchResponse> {
  const results = await Promise.allSettled(event.Records.map((record) => handle(record)));
  const batchItemFailures: { itemIdentifier: string }[] = [];
  await Promise.all(
    results.map(async (r, i) => {
      const record = event.Records[i];
      if (r.status === "fulfilled" || !record) return;
      const err = r.reason as Error;
      const level = err instanceof RetryableError || err instanceof ConflictError ? "info" : "warn";
      log[level]("message failed", { messageId: record.messageId, error: err.name, message: err.message });
      await onFailure(record).catch((e) =>
        log.warn("could not delay a failed message", {
          messageId: record.messageId,
          message: (e as Error).message,
        }),
      );
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }),
  );
  return { batchItemFailures };
}
