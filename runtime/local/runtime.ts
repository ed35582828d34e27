// The local runtime: one Node process serving the API and running SQS long-poll loops that call
// the same handlers Lambda calls (lib/handlers.ts), the poll function's loops including the four
// dead-letter queues. Used by `npm start`, by worker processes (no API) and by the tests.

import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { serve } from "@hono/node-server";
import { type Context, createContext } from "../../lib/context.ts";
import {
  apiApp,
  childHandler,
  dispatchHandler,
  mergeHandler,
  pollHandler,
  type SqsHandler,
} from "../../lib/handlers.ts";
import type { QueueName } from "../../lib/queue/messages.ts";
import type { Settings } from "../../lib/settings.ts";
import { ensureBucket, QUEUE_SETTINGS } from "./resources.ts";
import { SqsPoller } from "./sqs-poller.ts";

export interface LocalRuntime {
  /** The API's URL; empty for a worker without the API. */
  url: string;
  port: number;
  ctx: Context;
  stop(): Promise<void>;
}

export interface LocalRuntimeOptions {
  settings: Settings;
  /** The API's port; undefined: a worker that runs only the queue loops. */
  port?: number;
  hostname?: string;
  /** Run the queue loops (default true; false: an API-only process). */
  queues?: boolean;
  /** Concurrent child invocations (Lambda's reserved concurrency for the child function). */
  childWorkers?: number;
  /** Wraps a queue's handler (tests inject faults into a real handler this way). */
  wrap?: (queue: QueueName, handler: SqsHandler) => SqsHandler;
}

async function queueArn(sqs: SQSClient, url: string): Promise<{ arn: string; dlqArn?: string }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn", "RedrivePolicy"] }),
  );
  const redrive = out.Attributes?.RedrivePolicy;
  const dlqArn = redrive
    ? (JSON.parse(redrive) as { deadLetterTargetArn?: string }).deadLetterTargetArn
    : undefined;
  return { arn: out.Attributes?.QueueArn ?? url, ...(dlqArn ? { dlqArn } : {}) };
}

/** Starts the queue loops (and the API server, given a port); `stop()` drains and closes them. */
export async function startLocalRuntime(o: LocalRuntimeOptions): Promise<LocalRuntime> {
  const ctx = createContext(o.settings, "local");
  await ensureBucket(ctx.store.s3, o.settings.internalBucket);
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
        budgetSeconds: o.settings.budgetSeconds,
      },
      ctx.log,
    );
    p.start();
    pollers.push(p);
  };
  for (const name of o.queues === false ? [] : (Object.keys(handlers) as QueueName[])) {
    const url = o.settings.queues[name];
    const { arn, dlqArn } = await queueArn(ctx.queue.sqs, url);
    start(url, arn, handlers[name], shape[name]);
    // The poll function consumes every dead-letter queue, as on Lambda.
    if (dlqArn) start(ctx.queue.urlOf(dlqArn), dlqArn, handlers.poll, { batchSize: 10, workers: 1 });
  }

  let server: ReturnType<typeof serve> | undefined;
  let url = "";
  let port = 0;
  if (o.port !== undefined) {
    const app = apiApp(ctx);
    const hostname = o.hostname ?? "127.0.0.1";
    server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: o.port, hostname }, () => resolve(s));
    });
    const address = server.address();
    port = typeof address === "object" && address ? address.port : (o.port ?? 0);
    url = `http://${hostname}:${port}`;
  }
  return {
    url,
    port,
    ctx,
    async stop() {
      if (server) {
        const s = server;
        await new Promise<void>((r) => s.close(() => r()));
      }
      await Promise.all(pollers.map((p) => p.stop()));
      ctx.gateways.destroy();
    },
  };
}
