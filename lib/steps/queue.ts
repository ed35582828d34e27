// What the steps need of a queue: send a step's message (now or after a delay), many at once,
// and, for a message that failed, bring it back later. lib/queue/sqs-queue.ts is the SQS
// transport (AWS SQS or ElasticMQ); test/fakes/memory-queue.ts keeps the same visibility rules
// in memory for the unit tests of the reconciler.
import type { PipelineMessage, QueueName } from "./messages.ts";

export type QueueUrls = Record<QueueName, string>;

export interface Queue {
  send(message: PipelineMessage, delaySeconds?: number): Promise<void>;
  /** Sends many messages, each to its own type's queue. */
  sendAll(messages: PipelineMessage[]): Promise<void>;
  /** Makes a received message visible again after `seconds` (a failed message's back-off). */
  retryLater(source: string, receiptHandle: string, seconds: number): Promise<void>;
  /** Whether a record from the queue `source` (an ARN) is a dead letter. */
  isDeadLetter(source: string | undefined): boolean;
  /**
   * Sends a notification body to a queue of the user's on the same endpoint (notify/notify.ts),
   * tagged with its event id (FIFO queues deduplicate by it).
   */
  sendNotification(queueUrl: string, body: string, eventId: string, signal: AbortSignal): Promise<void>;
}
