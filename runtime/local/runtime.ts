// The local runtime: one Node process serving the API and running SQS long-poll loops that call
// the same handlers Lambda calls. Used by `npm start` and by the end-to-end tests.
import { serve } from "@hono/node-server";
import { makeApiApp } from "../../functions/api.ts";
import { makeChildHandler } from "../../functions/child.ts";
import { makeDispatchHandler } from "../../functions/dispatch.ts";
import { makeMergeHandler } from "../../functions/merge.ts";
import { makePollHandler } from "../../functions/poll.ts";
import { type Context, createContext } from "../../lib/context.ts";
import type { QueueName } from "../../lib/queue/messages.ts";
import type { Settings } from "../../lib/settings.ts";
import { ensureBucket, QUEUE_SETTINGS } from "./resources.ts";
import { SqsPoller } from "./sqs-poller.ts";

export interface LocalRuntime {
  url: string;
  port: number;
  ctx: Context;
  stop(): Promise<void>;
}

export interface LocalRuntimeOptions {
  settings: Settings;
  port: number;
  hostname?: string;
  /** Concurrent child invocations (Lambda's reserved concurrency for the child function). */
  childWorkers?: number;
  /** Seconds per receive before a failed message is retried (default 5). */
  retryBaseSeconds?: number;
}

/** Starts the API server and the four queue loops; `stop()` drains and closes them. */
export async function startLocalRuntime(o: LocalRuntimeOptions): Promise<LocalRuntime> {
  const ctx = createContext(o.settings, "local");
  await ensureBucket(ctx.store.s3, o.settings.internalBucket);
  const handlers: Record<QueueName, ReturnType<typeof makeChildHandler>> = {
    dispatch: makeDispatchHandler(ctx),
    child: makeChildHandler(ctx),
    poll: makePollHandler(ctx),
    merge: makeMergeHandler(ctx),
  };
  const shape: Record<QueueName, { batchSize: number; workers: number }> = {
    dispatch: { batchSize: 1, workers: 4 },
    // As in serverless.yml: one child per invocation, so `workers` is the child concurrency.
    child: { batchSize: 1, workers: o.childWorkers ?? 4 },
    poll: { batchSize: 10, workers: 1 },
    merge: { batchSize: 1, workers: 2 },
  };
  const pollers = (Object.keys(handlers) as QueueName[]).map((name) => {
    const p = new SqsPoller(
      ctx.queue.sqs,
      handlers[name],
      {
        queueUrl: o.settings.queues[name],
        ...shape[name],
        visibilityTimeout: QUEUE_SETTINGS[name].visibilityTimeout,
        ...(o.retryBaseSeconds ? { retryBaseSeconds: o.retryBaseSeconds } : {}),
      },
      ctx.log,
    );
    p.start();
    return p;
  });

  const app = makeApiApp(ctx);
  const hostname = o.hostname ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: o.port, hostname }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : o.port;
  return {
    url: `http://${hostname}:${port}`,
    port,
    ctx,
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all(pollers.map((p) => p.stop()));
      ctx.gateways.destroy();
    },
  };
}
