// `npm run start:deno`: the local runtime under Deno, as `npm start` is on Node: without configured
// endpoints it starts the emulators through localstack/start.sh, creates the queues and the
// internal bucket, serves the S3 Control API with Deno.serve and runs the queue loops, all with
// the same handlers (lib/handlers/). S3BATCH_MODE (all, worker, api) as on Node.
// Run: deno run --allow-net --allow-env --allow-read --allow-run --allow-sys runtime/deno/main.ts
import { SQSClient } from "@aws-sdk/client-sqs";
import { getConnInfo } from "hono/deno";
import { createContext, proveControlStore } from "../../lib/create-context.ts";
import { capabilityRefresher } from "../../lib/endpoints/capabilities.ts";
import { readEnv } from "../../lib/env.ts";
import { apiApp } from "../../lib/handlers/api.ts";
import { startQueueLoops } from "../../lib/loops.ts";
import { ensureBucket, ensureQueues, queueEnv } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import {
  DEMO_ROLE_ARN,
  EMBEDDED_API_KEYS,
  EMBEDDED_ROLES,
  emulatedEndpoints,
  parseStartOutput,
} from "../common/emulated.ts";

declare const Deno: {
  env: { get(name: string): string | undefined; set(name: string, value: string): void };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  Command: new (
    cmd: string,
    o: { args: string[]; stdout?: "piped" | "inherit"; stderr?: "piped" | "inherit" },
  ) => { output(): Promise<{ code: number; stdout: Uint8Array }> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
  pid: number;
};

const scripts = new URL("../../localstack/", import.meta.url).pathname;
const get = (name: string) => Deno.env.get(name);
const mode = get("S3BATCH_MODE") ?? "all";

async function script(name: string): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [`${scripts}${name}`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`localstack/${name} exited with ${out.code}`);
  return new TextDecoder().decode(out.stdout);
}

async function main(): Promise<void> {
  if (!["all", "worker", "api"].includes(mode)) throw new Error("S3BATCH_MODE must be all, worker or api");
  const embedded = !get("S3BATCH_ENDPOINTS") && !get("S3BATCH_ENDPOINTS_FILE");
  if (embedded && mode === "worker")
    throw new Error("a worker joins a deployment: set S3BATCH_ENDPOINTS (or _FILE) and the control endpoint");
  if (embedded) {
    const urls = parseStartOutput(await script("start.sh"));
    Deno.env.set("AWS_ENDPOINT_URL", urls.control);
    const defaults: [string, string][] = [
      ["AWS_ACCESS_KEY_ID", "test"],
      ["AWS_SECRET_ACCESS_KEY", "test"],
      ["AWS_REGION", "us-east-1"],
    ];
    for (const [k, v] of defaults) if (!get(k)) Deno.env.set(k, v);
    Deno.env.set("S3BATCH_ENDPOINTS", emulatedEndpoints(urls));
    if (!get("S3BATCH_API_KEYS")) {
      Deno.env.set("S3BATCH_API_KEYS", EMBEDDED_API_KEYS);
      console.log(
        "API key: access key id test, secret test, account 123456789012 (set S3BATCH_API_KEYS to change)",
      );
    }
    if (!get("S3BATCH_ROLES") && !get("S3BATCH_ROLES_FILE")) {
      Deno.env.set("S3BATCH_ROLES", EMBEDDED_ROLES);
      console.log(`role: ${DEMO_ROLE_ARN}, any bucket of the emulators (set S3BATCH_ROLES to change)`);
    }
  }
  if (!get("S3BATCH_QUEUE_URL_DISPATCH")) {
    const endpoint = get("AWS_ENDPOINT_URL");
    const sqs = new SQSClient({
      region: get("AWS_REGION") ?? "us-east-1",
      ...(endpoint ? { endpoint } : {}),
    });
    for (const [k, v] of Object.entries(
      queueEnv(await ensureQueues(sqs, get("S3BATCH_QUEUE_PREFIX") ?? "s3batch")),
    ))
      Deno.env.set(k, v);
    sqs.destroy();
  }
  const settings = loadSettings(readEnv());
  const ctx = createContext(settings, "deno");
  if (mode !== "worker") await ensureBucket(ctx.store.s3, settings.internalBucket);
  await proveControlStore(ctx);
  capabilityRefresher(ctx)();
  const workers = get("S3BATCH_CHILD_WORKERS");
  const stopLoops =
    mode === "api"
      ? async () => {}
      : await startQueueLoops(ctx, workers ? { childWorkers: Number(workers) } : {});
  if (mode !== "api") console.log(`s3batch queue loops running (pid ${Deno.pid})`);
  let server: { shutdown(): Promise<void> } | undefined;
  if (mode !== "worker") {
    const hostname = get("S3BATCH_HOST") ?? "127.0.0.1";
    await new Promise<void>((resolve) => {
      server = Deno.serve(
        {
          port: Number(get("S3BATCH_PORT") ?? 8787),
          hostname,
          onListen: ({ port }) => {
            console.log(`s3batch API (Deno) listening on http://${hostname}:${port}`);
            resolve();
          },
        },
        apiApp(ctx, getConnInfo).fetch,
      );
    });
  }
  console.log(`endpoints: ${settings.endpoints.map((e) => `${e.id}=${e.url}`).join(" ")}`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await server?.shutdown();
    await stopLoops();
    ctx.gateways.destroy();
    if (embedded) await script("stop.sh");
    console.log("s3batch stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void shutdown());
  Deno.addSignalListener("SIGTERM", () => void shutdown());
}

main().catch((err) => {
  console.error(`s3batch failed to start: ${(err as Error).message}`);
  Deno.exit(1);
});
