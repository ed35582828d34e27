// Time from CreateJob to Complete for the seed scenario (3 tasks on two gateways), through the
// real local runtime on the emulators. Prints one JSON line and a table.
// Run: node --import tsx bench/seed-latency.ts [runs]   (starts the emulators if needed)
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { loadSettings } from "../lib/settings.ts";
import { ensureQueues } from "../runtime/local/resources.ts";
import { startLocalRuntime } from "../runtime/local/runtime.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient, TEST_CREDENTIALS } from "../test/helpers/clients.ts";
import { createJob, createJobInput, waitForJob } from "../test/helpers/jobs.ts";
import { seedScenario } from "../test/helpers/seed.ts";

const runs = Number(process.argv[2] ?? 10);
const root = join(import.meta.dirname, "..");
const out = execFileSync("bash", [join(root, "localstack/start.sh")], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
const vars = Object.fromEntries(
  out
    .trim()
    .split("\n")
    .map((l) => l.split("=", 2)),
);
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

const sqs = new SQSClient({ region: "us-east-1", endpoint: vars.S3BATCH_CONTROL_URL });
const queues = await ensureQueues(sqs, "bench");
const gw = (id: string, url: string) => ({ id, url, credentials: TEST_CREDENTIALS });
const settings = loadSettings({
  AWS_ENDPOINT_URL: vars.S3BATCH_CONTROL_URL,
  S3BATCH_ENDPOINTS: JSON.stringify([
    gw("gateway-a", vars.S3BATCH_GATEWAY_A_URL),
    gw("gateway-b", vars.S3BATCH_GATEWAY_B_URL),
  ]),
  S3BATCH_INTERNAL_BUCKET: "s3batch-bench",
  S3BATCH_QUEUE_URL_DISPATCH: queues.dispatch,
  S3BATCH_QUEUE_URL_CHILD: queues.child,
  S3BATCH_QUEUE_URL_POLL: queues.poll,
  S3BATCH_QUEUE_URL_MERGE: queues.merge,
  S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
  S3BATCH_LOG_LEVEL: "warn",
});
const runtime = await startLocalRuntime({ settings, port: 0 });
const control = s3ControlClient(runtime.url);
const a = gatewayClient(vars.S3BATCH_GATEWAY_A_URL);
const b = gatewayClient(vars.S3BATCH_GATEWAY_B_URL);

const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const manifest = await seedScenario(a, b);
  const started = performance.now();
  const jobId = await createJob(
    control,
    createJobInput(manifest, {
      S3InitiateRestoreObject: { ExpirationInDays: 123, GlacierJobTier: "STANDARD" },
    }),
  );
  const job = await waitForJob(control, jobId);
  if (job.Status !== "Complete") throw new Error(`run ${i}: job ended ${job.Status}`);
  times.push(performance.now() - started);
}
await runtime.stop();
for (const c of [control, a, b, sqs]) c.destroy();

const sorted = [...times].sort((x, y) => x - y);
const pct = (p: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
const result = {
  benchmark: "seed-createjob-to-complete-ms",
  runs,
  min: pct(0),
  p50: pct(50),
  p90: pct(90),
  max: pct(100),
};
console.log(JSON.stringify(result));
console.table([
  { runs, "min ms": result.min, "p50 ms": result.p50, "p90 ms": result.p90, "max ms": result.max },
]);
process.exit(0);
