// `npm start`: the local runtime. Without configured endpoints it starts the emulators first
// (localstack/start.sh: a LocalStack control endpoint and two gateways), creates the queues and
// the internal bucket, serves the S3 Control API and runs the queue loops until interrupted.
//
// S3BATCH_MODE picks what this process runs: `all` (the default: API and queue loops), `worker`
// (the queue loops only: more of them, on other hosts, share one control endpoint) or `api`.
// A worker never starts emulators: it joins a deployment whose endpoints it is given.
import { SQSClient } from "@aws-sdk/client-sqs";
import { ensureQueues, queueEnv } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import { DEMO_ROLE_ARN, EMBEDDED_API_KEYS, EMBEDDED_ROLES, emulatedEndpoints } from "../common/emulated.ts";
import { startEmulators, stopEmulators } from "./emulators.ts";
import { startCeph, startElasticMq, stopCeph, stopElasticMq } from "./gateways.ts";
import { startLocalRuntime } from "./runtime.ts";

// The SDK's default credential chain reads process.env, so settings made here go there too.
const env = process.env;
const mode = env.S3BATCH_MODE ?? "all";
/** `onprem`: the control plane on real parts (ElasticMQ, Ceph RGW) instead of LocalStack. */
const profile = env.S3BATCH_PROFILE ?? "emulators";
const ONPREM_SQS_PORT = Number(env.S3BATCH_ONPREM_SQS_PORT ?? 4750);
const ONPREM_RGW_PORT = Number(env.S3BATCH_ONPREM_RGW_PORT ?? 4751);

function useEmbeddedEmulators(): () => void {
  const urls = startEmulators(env);
  env.AWS_ENDPOINT_URL = urls.control;
  env.AWS_ACCESS_KEY_ID ??= "test";
  env.AWS_SECRET_ACCESS_KEY ??= "test";
  env.AWS_REGION ??= "us-east-1";
  env.S3BATCH_ENDPOINTS = emulatedEndpoints(urls);
  return () => stopEmulators(env);
}

/**
 * The on-prem profile: queues on ElasticMQ (messages in H2), the internal bucket on Ceph RGW (a
 * one-node RADOS cluster), which is also the one gateway; no AWS emulator. docs/onprem.md.
 */
function useOnPrem(): () => void {
  const sqs = startElasticMq(ONPREM_SQS_PORT, env);
  const rgw = startCeph("rados", ONPREM_RGW_PORT, env);
  env.AWS_ENDPOINT_URL_SQS = sqs;
  env.AWS_ENDPOINT_URL_S3 = rgw;
  env.AWS_ACCESS_KEY_ID ??= "test";
  env.AWS_SECRET_ACCESS_KEY ??= "test";
  env.AWS_REGION ??= "us-east-1";
  env.S3BATCH_ENDPOINTS = JSON.stringify([
    {
      id: "ceph",
      url: rgw,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    },
  ]);
  console.log(`on-prem control plane: queues on ElasticMQ ${sqs}, internal bucket on Ceph RGW ${rgw}`);
  return () => {
    stopElasticMq(ONPREM_SQS_PORT, env);
    stopCeph("rados", ONPREM_RGW_PORT, env);
  };
}

/** Stops what this process started (the emulators or the on-prem parts), also when start fails. */
let stopStarted = () => {};

async function main(): Promise<void> {
  if (!["all", "worker", "api"].includes(mode)) throw new Error("S3BATCH_MODE must be all, worker or api");
  const embedded = !env.S3BATCH_ENDPOINTS && !env.S3BATCH_ENDPOINTS_FILE;
  if (embedded && mode === "worker")
    throw new Error("a worker joins a deployment: set S3BATCH_ENDPOINTS (or _FILE) and the control endpoint");
  if (!["emulators", "onprem"].includes(profile))
    throw new Error("S3BATCH_PROFILE must be emulators or onprem");
  if (embedded) stopStarted = profile === "onprem" ? useOnPrem() : useEmbeddedEmulators();
  if (!env.S3BATCH_QUEUE_URL_DISPATCH) {
    const region = env.AWS_REGION ?? "us-east-1";
    const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
    const sqs = new SQSClient({ region, ...(endpoint ? { endpoint } : {}) });
    const urls = await ensureQueues(sqs, env.S3BATCH_QUEUE_PREFIX ?? "s3batch");
    Object.assign(env, queueEnv(urls));
    sqs.destroy();
  }
  if (embedded && !env.S3BATCH_API_KEYS) {
    // The embedded setup accepts the LocalStack-style key test/test for account 123456789012.
    env.S3BATCH_API_KEYS = EMBEDDED_API_KEYS;
    console.log(
      "API key: access key id test, secret test, account 123456789012 (set S3BATCH_API_KEYS to change)",
    );
  }
  if (embedded && !env.S3BATCH_ROLES && !env.S3BATCH_ROLES_FILE) {
    env.S3BATCH_ROLES = EMBEDDED_ROLES;
    console.log(`role: ${DEMO_ROLE_ARN}, any bucket of the emulators (set S3BATCH_ROLES to change)`);
  }
  const settings = loadSettings(env);
  const runtime = await startLocalRuntime({
    settings,
    ...(mode === "worker" ? {} : { port: Number(env.S3BATCH_PORT ?? 8787) }),
    hostname: env.S3BATCH_HOST ?? "127.0.0.1",
    queues: mode !== "api",
    // A worker joins a deployment whose internal bucket exists (and may not be allowed to create one).
    createBucket: mode !== "worker",
    ...(env.S3BATCH_CHILD_WORKERS ? { childWorkers: Number(env.S3BATCH_CHILD_WORKERS) } : {}),
  });
  if (runtime.url) console.log(`s3batch API listening on ${runtime.url}`);
  if (mode !== "api") console.log(`s3batch queue loops running (pid ${process.pid})`);
  console.log(`endpoints: ${settings.endpoints.map((e) => `${e.id}=${e.url}`).join(" ")}`);
  if (embedded && profile !== "onprem")
    console.log(`control endpoint (SQS, internal bucket): ${env.AWS_ENDPOINT_URL}`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await runtime.stop();
    if (embedded) stopStarted();
    console.log("s3batch stopped");
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((err) => {
  console.error(`s3batch failed to start: ${(err as Error).message}`);
  stopStarted();
  process.exit(1);
});
