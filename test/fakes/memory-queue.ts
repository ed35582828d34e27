// The pipeline queue in memory, for unit tests of the steps, with SQS's visibility rules: a sent
// message is visible once its delay has passed; a received one is invisible for the visibility
// timeout and comes back unless deleted; after `maxReceives` receives it moves to the dead-letter
// queue. Time is the test's: `advance` moves the queue's clock.
import type { PipelineMessage, QueueName } from "../../lib/steps/messages.ts";
import type { Queue } from "../../lib/steps/queue.ts";

interface Held {
  id: number;
  message: PipelineMessage;
  visibleAt: number;
  receives: number;
}

export interface Received {
  message: PipelineMessage;
  receiptHandle: string;
  receives: number;
}

export class MemoryQueue implements Queue {
  private readonly held: Held[] = [];
  readonly deadLetters: Held[] = [];
  readonly notifications: { queueUrl: string; body: string; eventId: string }[] = [];
  /** Notification sends that fail (as an unreachable queue would) before one succeeds. */
  failNotifications = 0;
  private seq = 0;
  private nowMs = 0;

  constructor(
    readonly visibilityTimeoutSeconds = 30,
    readonly maxReceives = 5,
  ) {}

  advance(ms: number): void {
    this.nowMs += ms;
  }

  async send(message: PipelineMessage, delaySeconds = 0): Promise<void> {
    this.held.push({ id: ++this.seq, message, visibleAt: this.nowMs + delaySeconds * 1000, receives: 0 });
  }

  async sendAll(messages: PipelineMessage[]): Promise<void> {
    for (const m of messages) await this.send(m);
  }

  /** Receives up to `max` visible messages of one type, hiding them for the visibility timeout. */
  receive(type: QueueName, max = 10): Received[] {
    const out: Received[] = [];
    for (const h of [...this.held]) {
      if (out.length >= max) break;
      if (h.message.type !== type || h.visibleAt > this.nowMs) continue;
      if (h.receives >= this.maxReceives) {
        this.held.splice(this.held.indexOf(h), 1);
        this.deadLetters.push(h);
        continue;
      }
      h.receives++;
      h.visibleAt = this.nowMs + this.visibilityTimeoutSeconds * 1000;
      out.push({ message: h.message, receiptHandle: String(h.id), receives: h.receives });
    }
    return out;
  }

  /** Deletes a received message (its handler succeeded). */
  ack(receiptHandle: string): void {
    const at = this.held.findIndex((h) => String(h.id) === receiptHandle);
    if (at !== -1) this.held.splice(at, 1);
  }

  async retryLater(_source: string, receiptHandle: string, seconds: number): Promise<void> {
    const h = this.held.find((x) => String(x.id) === receiptHandle);
    if (h) h.visibleAt = this.nowMs + seconds * 1000;
  }

  isDeadLetter(source: string | undefined): boolean {
    return source?.endsWith("-dlq") ?? false;
  }

  async sendNotification(queueUrl: string, body: string, eventId: string): Promise<void> {
    if (this.failNotifications > 0) {
      this.failNotifications--;
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    }
    this.notifications.push({ queueUrl, body, eventId });
  }

  /** The messages waiting (visible or not), of one type or all, oldest first. */
  waiting(type?: QueueName): PipelineMessage[] {
    return this.held.filter((h) => !type || h.message.type === type).map((h) => h.message);
  }

  /** Takes every waiting message off the queue (a test that drives the handlers itself). */
  drain(type?: QueueName): PipelineMessage[] {
    const taken = this.held.filter((h) => !type || h.message.type === type);
    for (const h of taken) this.held.splice(this.held.indexOf(h), 1);
    return taken.map((h) => h.message);
  }
}
