// Sending pipeline messages to their SQS queues.
import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { RetryableError } from "../errors.ts";
import { retryAttempts } from "../retry/attempts.ts";
import type { PipelineMessage, QueueName } from "../steps/messages.ts";
import type { Queue, QueueUrls } from "../steps/queue.ts";

/** Tries of a batch send, retrying the entries SQS refused. */
const SEND_ATTEMPTS = 6;

/** SQS kept refusing entries of a batch: the caller's message is redelivered and sends them again. */
export class QueueRefusedError extends RetryableError {}

export class PipelineQueue implements Queue {
  constructor(
    readonly sqs: SQSClient,
    readonly urls: QueueUrls,
  ) {}

  async send(message: PipelineMessage, delaySeconds = 0): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.urls[message.type],
        MessageBody: JSON.stringify(message),
        DelaySeconds: delaySeconds,
      }),
    );
  }

  async sendNotification(
    queueUrl: string,
    body: string,
    eventId: string,
    signal: AbortSignal,
  ): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        MessageAttributes: { "s3batch-event-id": { DataType: "String", StringValue: eventId } },
        ...(queueUrl.endsWith(".fifo") ? { MessageGroupId: "s3batch", MessageDeduplicationId: eventId } : {}),
      }),
      { abortSignal: signal },
    );
  }

  /** The queue name at the end of a queue URL or ARN. */
  static nameOf(urlOrArn: string): string {
    return urlOrArn.slice(Math.max(urlOrArn.lastIndexOf("/"), urlOrArn.lastIndexOf(":")) + 1);
  }

  /** Whether a record from the queue `arn` is a dead letter (from none of the pipeline's queues). */
  isDeadLetter(arn: string | undefined): boolean {
    if (!arn) return false;
    const name = PipelineQueue.nameOf(arn);
    return !Object.values(this.urls).some((u) => PipelineQueue.nameOf(u) === name);
  }

  /** The URL of the queue `arn` names: every queue lives where the pipeline's queues do. */
  urlOf(arn: string): string {
    return this.urls.poll.replace(/[^/]+$/, PipelineQueue.nameOf(arn));
  }

  /** Makes a received message visible again after `seconds` (a failed message's back-off). */
  async retryLater(arn: string, receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.urlOf(arn),
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(seconds))),
      }),
    );
  }

  /** Sends many messages, each to its own type's queue, ten to a request, retrying refused entries. */
  async sendAll(messages: PipelineMessage[]): Promise<void> {
    const byQueue = new Map<QueueName, PipelineMessage[]>();
    for (const m of messages) byQueue.set(m.type, [...(byQueue.get(m.type) ?? []), m]);
    for (const [type, group] of byQueue) {
      for (let i = 0; i < group.length; i += 10)
        await this.sendBatch(this.urls[type], group.slice(i, i + 10));
    }
  }

  private async sendBatch(QueueUrl: string, messages: PipelineMessage[]): Promise<void> {
    let entries = messages.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) }));
    const out = await retryAttempts(SEND_ATTEMPTS, "throttled", async () => {
      const sent = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
      const failed = new Set((sent.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((e) => failed.has(e.Id));
      return entries.length === 0 ? { final: 0 } : { again: entries.length };
    });
    if (!out.final) throw new QueueRefusedError(`SQS refused ${out.value} messages ${SEND_ATTEMPTS} times`);
  }
}
