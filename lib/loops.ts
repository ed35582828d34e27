// The queue loops of a runtime that is not Lambda (the local Node runtime, the Deno runtime, a
// worker process): one long-poll loop set per pipeline queue, calling the same handlers Lambda
// calls (lib/handlers/), and loops on the four dead-letter queues calling the poll function, as
// its event source mappings do on AWS.
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SqsContext } from "./create-context.ts";
import { childHandler } from "./handlers/child.ts";
import { dispatchHandler } from "./handlers/dispatch.ts";
import { mergeHandler } from "./handlers/merge.ts";
import { pollHandler } from "./handlers/poll.ts";
import type { SqsHandler } from "./handlers/sqs-handler.ts";
import { QUEUE_SETTINGS } from "./provision.ts";
import { SqsPoller } from "./queue/poller.ts";
import type { QueueName } from "./steps/messages.ts";

export interface QueueLoopOptions {
  /** Concurrent child invocations (Lambda's reserved concurrency for the child function). */
  childWorkers?: number;
  /** Wraps a queue's handler (tests inject faults into a real handler this way). */
  wrap?: (queue: QueueName, handler: SqsHandler) => SqsHandler;
}

async function queueArns(sqs: SQSClient, url: string): Promise<{ arn: string; dlqArn?: string }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn", "RedrivePolicy"] }),
  );
  const redrive = out.Attributes?.RedrivePolicy;
  const dlqArn = redrive
    ? (JSON.parse(redrive) as { deadLetterTargetArn?: string }).deadLetterTargetArn
    : undefined;
  return { arn: out.Attributes?.QueueArn ?? url, ...(dlqArn ? { dlqArn } : {}) };
}

/** Starts the loops; the returned function stops them, letting running batches finish. */
export async function startQueueLoops(
  ctx: SqsContext,
  o: QueueLoopOptions = {},
): Promise<() => Promise<void>> {
  const wrap = o.wrap ?? ((_q, h) => h);
  const handlers: Record<QueueName, SqsHandler> = {
    dispatch: wrap("dispatch", dispatchHandler(ctx)),
    child: wrap("child", childHandler(ctx)),
    poll: wrap("poll", pollHandler(ctx)),
    merge: wrap("merge", mergeHandler(ctx)),
  };
  const shape: Record<QueueName, { batchSize: number; workers: number }> = {
    dispatch: { batchSize: 1, workers: 2 },
    // As in serverless.yml: one child per invocation, so `workers` is the child concurrency.
    child: { batchSize: 1, workers: o.childWorkers ?? 4 },
    poll: { batchSize: 10, workers: 2 },
    merge: { batchSize: 1, workers: 2 },
  };
  const pollers: SqsPoller[] = [];
  const start = (
    url: string,
    arn: string,
    handler: SqsHandler,
    s: { batchSize: number; workers: number },
  ) => {
    const p = new SqsPoller(
      ctx.queue.sqs,
      handler,
      {
        queueUrl: url,
        queueArn: arn,
        ...s,
        visibilityTimeout: QUEUE_SETTINGS.visibilityTimeout,
        budgetSeconds: ctx.settings.budgetSeconds,
      },
      ctx.log,
    );
    p.start();
    pollers.push(p);
  };
  for (const name of Object.keys(handlers) as QueueName[]) {
    const url = ctx.settings.queues[name];
    const { arn, dlqArn } = await queueArns(ctx.queue.sqs, url);
    start(url, arn, handlers[name], shape[name]);
    if (dlqArn) start(ctx.queue.urlOf(dlqArn), dlqArn, handlers.poll, { batchSize: 10, workers: 1 });
  }
  return async () => {
    await Promise.all(pollers.map((p) => p.stop()));
  };
}
