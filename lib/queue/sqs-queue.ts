// Sending pipeline messages to their SQS queues.
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { PipelineMessage, QueueName } from "./messages.ts";

export type QueueUrls = Record<QueueName, string>;

export class PipelineQueue {
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

  /** Sends many messages of one type, ten to a request, retrying entries SQS refused. */
  async sendAll(messages: PipelineMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      let batch = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m), m }));
      for (let attempt = 0; batch.length > 0; attempt++) {
        const first = batch[0];
        if (!first) break;
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.urls[first.m.type],
            Entries: batch.map(({ Id, MessageBody }) => ({ Id, MessageBody })),
          }),
        );
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        batch = batch.filter((e) => failed.has(e.Id));
        if (batch.length > 0 && attempt >= 5) throw new Error(`SQS refused ${batch.length} messages`);
      }
    }
  }
}
