// An SQS long-poll loop that calls a Lambda-style SQS handler with Lambda's semantics: records
// in batches (with their receipt handles and the queue's ARN), the batch's reported failures left
// on the queue (the handler sets when they return; SQS moves them to the DLQ after
// maxReceiveCount), the rest deleted. The queue's visibility timeout is short, and while a batch
// runs its visibility is extended, so the messages of a process that dies return within seconds.
// Each invocation gets a time budget, as Lambda's context gives one.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { type InvocationContext, localInvocation } from "../budget.ts";
import { backoffMs, redeliveryDelaySeconds, sleep } from "../retry/policy.ts";
import type { Logger } from "../util/logger.ts";
import type { SqsBatchResponse, SqsEvent } from "./partial-batch.ts";

export interface PollerOptions {
  queueUrl: string;
  /** The queue's ARN, given to the handler as each record's eventSourceARN. */
  queueArn: string;
  batchSize: number;
  /** Concurrent receive loops (Lambda's concurrent invocations). */
  workers: number;
  visibilityTimeout: number;
  /** Each invocation's time budget. */
  budgetSeconds: number;
}

export class SqsPoller {
  private stopped = false;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly sqs: SQSClient,
    private readonly handler: (event: SqsEvent, invocation: InvocationContext) => Promise<SqsBatchResponse>,
    private readonly o: PollerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (let i = 0; i < this.o.workers; i++) this.loops.push(this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let messages: Message[] = [];
      try {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: this.o.batchSize,
            WaitTimeSeconds: 2,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn("receive failed", { queue: this.o.queueUrl, message: (err as Error).message });
        // The queue's endpoint is away: wait as the retry policy says, then receive again.
        await sleep(backoffMs(++failures, "unavailable"), this.abort.signal);
        continue;
      }
      if (messages.length > 0) await this.runBatch(messages);
    }
  }

  private async runBatch(messages: Message[]): Promise<void> {
    const event: SqsEvent = {
      Records: messages.map((m) => ({
        messageId: m.MessageId ?? "",
        body: m.Body ?? "",
        ...(m.ReceiptHandle ? { receiptHandle: m.ReceiptHandle } : {}),
        eventSourceARN: this.o.queueArn,
        attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1" },
      })),
    };
    const heartbeat = setInterval(() => void this.extend(messages), (this.o.visibilityTimeout * 1000) / 3);
    let failed: Set<string>;
    try {
      const res = await this.handler(event, localInvocation(this.o.budgetSeconds));
      failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    } catch (err) {
      this.log.error("handler threw", { message: (err as Error).message });
      failed = new Set(messages.map((m) => m.MessageId ?? ""));
      await this.backOff(messages);
    } finally {
      clearInterval(heartbeat);
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
    if (done.length > 0) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.o.queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  }

  /** A batch whose handler threw comes back after the retry policy's delay. */
  private async backOff(messages: Message[]): Promise<void> {
    await this.setVisibility(messages, (m) =>
      redeliveryDelaySeconds(Number(m.Attributes?.ApproximateReceiveCount ?? 1)),
    );
  }

  private extend(messages: Message[]): Promise<void> {
    return this.setVisibility(messages, () => this.o.visibilityTimeout);
  }

  private async setVisibility(messages: Message[], seconds: (m: Message) => number): Promise<void> {
    await this.sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.o.queueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: seconds(m),
          })),
        }),
      )
      .catch((err) =>
        // A lost extension only lets the message come back early; leases keep that harmless.
        this.log.debug("visibility change failed", {
          queue: this.o.queueUrl,
          message: (err as Error).message,
        }),
      );
  }
}
