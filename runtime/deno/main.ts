// The API under Deno: the same Hono app and handlers, served by Deno.serve. Settings come from the
// environment exactly as on Lambda (S3BATCH_*, AWS_*); S3BATCH_PORT picks the port.
// Run: deno run --allow-net --allow-env --allow-read --allow-sys runtime/deno/main.ts

import { createContext } from "../../lib/context.ts";
import { readEnv } from "../../lib/env.ts";
import { apiApp } from "../../lib/handlers.ts";
import { loadSettings } from "../../lib/settings.ts";

declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): unknown;
};

const env = readEnv();
const app = apiApp(createContext(loadSettings(env), "api"));
Deno.serve(
  {
    port: Number(env.S3BATCH_PORT ?? 8788),
    hostname: env.S3BATCH_HOST ?? "127.0.0.1",
    onListen: ({ port }) => console.log(`s3batch API (Deno) listening on http://127.0.0.1:${port}`),
  },
  app.fetch,
);
