// The local runtime on Node: the API over @hono/node-server and the queue loops (lib/loops.ts)
// in one process, with pooled keep-alive connections to every gateway. Used by `npm start`, by
// worker processes (no API) and by the tests.
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createContext, proveControlStore, type SqsContext } from "../../lib/create-context.ts";
import { capabilityRefresher } from "../../lib/endpoints/capabilities.ts";
import { apiApp } from "../../lib/handlers/api.ts";
import { type QueueLoopOptions, startQueueLoops } from "../../lib/loops.ts";
import { ensureBucket } from "../../lib/provision.ts";
import type { Settings } from "../../lib/settings.ts";

export interface LocalRuntime {
  /** The API's URL; empty for a worker without the API. */
  url: string;
  port: number;
  ctx: SqsContext;
  stop(): Promise<void>;
}

export interface LocalRuntimeOptions extends QueueLoopOptions {
  settings: Settings;
  /** The API's port; undefined: a worker that runs only the queue loops. */
  port?: number;
  hostname?: string;
  /** Run the queue loops (default true; false: an API-only process). */
  queues?: boolean;
  /** Create the internal bucket if it is missing (default true; a worker joins an existing one). */
  createBucket?: boolean;
}

/** Node's pooled keep-alive HTTP handler, sized to the client's concurrency. */
export const nodeHttpHandler = (maxSockets: number) => {
  const agent = { keepAlive: true, maxSockets };
  return new NodeHttpHandler({
    httpAgent: agent,
    httpsAgent: agent,
    connectionTimeout: 5_000,
    // A request that stops moving for this long is dropped: an unavailability, retried.
    socketTimeout: 120_000,
  });
};

/** Starts the queue loops (and the API server, given a port); `stop()` drains and closes them. */
export async function startLocalRuntime(o: LocalRuntimeOptions): Promise<LocalRuntime> {
  const ctx = createContext(o.settings, "local", { httpHandler: nodeHttpHandler });
  try {
    if (o.createBucket !== false) await ensureBucket(ctx.store.s3, o.settings.internalBucket);
    await proveControlStore(ctx);
    // What each gateway can do, probed in the background (endpoints/capabilities.ts).
    capabilityRefresher(ctx)();
  } catch (err) {
    ctx.gateways.destroy();
    throw err;
  }
  const stopLoops = o.queues === false ? async () => {} : await startQueueLoops(ctx, o);

  let server: ReturnType<typeof serve> | undefined;
  let url = "";
  let port = 0;
  if (o.port !== undefined) {
    const app = apiApp(ctx, getConnInfo);
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
      await stopLoops();
      ctx.gateways.destroy();
    },
  };
}
