// `npm start`: the local runtime. Without configured endpoints it starts the emulators first
// (localstack/start.sh: a LocalStack control endpoint and two gateways), creates the queues and
// the internal bucket, serves the S3 Control API and runs the queue loops until interrupted.
import { readFileSync } from "node:fs";
import { SQSClient } from "@aws-sdk/client-sqs";
import { loadSettings } from "../../lib/settings.ts";
import { emulatedEndpoints, startEmulators, stopEmulators } from "./emulators.ts";
import { ensureQueues, queueEnv } from "./resources.ts";
import { startLocalRuntime } from "./runtime.ts";

// The SDK's default credential chain reads process.env, so settings made here go there too.
const env = process.env;

function useEmbeddedEmulators(): void {
  const urls = startEmulators(env);
  env.AWS_ENDPOINT_URL = urls.control;
  env.AWS_ACCESS_KEY_ID ??= "test";
  env.AWS_SECRET_ACCESS_KEY ??= "test";
  env.AWS_REGION ??= "us-east-1";
  env.S3BATCH_ENDPOINTS = emulatedEndpoints(urls);
}

async function main(): Promise<void> {
  if (env.S3BATCH_ENDPOINTS_FILE && !env.S3BATCH_ENDPOINTS) {
    env.S3BATCH_ENDPOINTS = readFileSync(env.S3BATCH_ENDPOINTS_FILE, "utf8");
  }
  const embedded = !env.S3BATCH_ENDPOINTS;
  if (embedded) useEmbeddedEmulators();
  if (!env.S3BATCH_QUEUE_URL_DISPATCH) {
    const region = env.AWS_REGION ?? "us-east-1";
    const sqs = new SQSClient({
      region,
      ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
    });
    const urls = await ensureQueues(sqs, env.S3BATCH_QUEUE_PREFIX ?? "s3batch");
    Object.assign(env, queueEnv(urls));
    sqs.destroy();
  }
  if (embedded && !env.S3BATCH_API_KEYS) {
    // The embedded setup accepts the LocalStack-style key test/test for account 123456789012.
    env.S3BATCH_API_KEYS = JSON.stringify([
      { accessKeyId: "test", secretAccessKey: "test", accountId: "123456789012" },
    ]);
    console.log(
      "API key: access key id test, secret test, account 123456789012 (set S3BATCH_API_KEYS to change)",
    );
  }
  const settings = loadSettings(env);
  const runtime = await startLocalRuntime({
    settings,
    port: Number(env.S3BATCH_PORT ?? 8787),
    hostname: env.S3BATCH_HOST ?? "127.0.0.1",
  });
  console.log(`s3batch API listening on ${runtime.url}`);
  console.log(`endpoints: ${settings.endpoints.map((e) => `${e.id}=${e.url}`).join(" ")}`);
  if (embedded) console.log(`control endpoint (SQS, internal bucket): ${env.AWS_ENDPOINT_URL}`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await runtime.stop();
    if (embedded) stopEmulators(env);
    console.log("s3batch stopped");
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((err) => {
  console.error(`s3batch failed to start: ${(err as Error).message}`);
  process.exit(1);
});
