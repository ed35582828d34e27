// The local runtime keeps Lambda's SQS semantics: a message that keeps failing is retried, then
// moved to its queue's DLQ after maxReceiveCount receives; its batch neighbours are not held back.
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime({}, { maxReceiveCount: 2, retryBaseSeconds: 1 });
});
afterAll(async () => {
  await t?.stop();
});

describe("local runtime SQS semantics", () => {
  it("moves a poison message to the DLQ after maxReceiveCount receives and finishes its neighbour", async () => {
    // Prepare
    const sqs = t.runtime.ctx.queue.sqs;
    const pollQueue = t.runtime.ctx.settings.queues.poll;
    const dlq = `${pollQueue}-dlq`;
    const poison = JSON.stringify({ v: 9, type: "poll", accountId: "123456789012", jobId: "no-such-job" });
    const fine = JSON.stringify({
      v: 1,
      type: "poll",
      accountId: "123456789012",
      jobId: "no-such-job",
      chain: false,
    });

    // Act
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: pollQueue,
        Entries: [
          { Id: "poison", MessageBody: poison },
          { Id: "fine", MessageBody: fine },
        ],
      }),
    );
    const deadline = Date.now() + 45_000;
    let dead: string[] = [];
    while (dead.length === 0 && Date.now() < deadline) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }),
      );
      dead = (out.Messages ?? []).map((m) => m.Body ?? "");
    }

    // Assess
    expect(dead).toEqual([poison]);
    const left = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: pollQueue,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Object.values(left.Attributes ?? {}).map(Number)).toEqual([0, 0]);
  });
});
