// Lambda's SQS contract: a handler processes each record on its own and reports the ones that
// failed, so one bad message is redelivered without re-running its neighbours.
import { ConflictError, RetryableError } from "../errors.ts";
import type { Logger } from "../util/logger.ts";

export interface SqsRecord {
  messageId: string;
  body: string;
  attributes?: { ApproximateReceiveCount?: string };
}
export interface SqsEvent {
  Records: SqsRecord[];
}
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** Runs `handle` on every record concurrently; failures come back as batchItemFailures. */
export async function processPartialResponse(
  event: SqsEvent,
  handle: (body: unknown, record: SqsRecord) => Promise<void>,
  log: Logger,
): Promise<SqsBatchResponse> {
  const results = await Promise.allSettled(
    event.Records.map(async (record) => {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        throw new Error("message body is not JSON");
      }
      await handle(body, record);
    }),
  );
  const batchItemFailures: { itemIdentifier: string }[] = [];
  results.forEach((r, i) => {
    const record = event.Records[i];
    if (r.status === "fulfilled" || !record) return;
    const err = r.reason as Error;
    const level = err instanceof RetryableError || err instanceof ConflictError ? "info" : "error";
    log[level]("message failed", { messageId: record.messageId, error: err.name, message: err.message });
    batchItemFailures.push({ itemIdentifier: record.messageId });
  });
  return { batchItemFailures };
}
