// Time from CreateJob to Complete for the seed scenario (3 tasks on two gateways), through the
// real local runtime on the emulators. Prints one JSON line and a table.
// Run: node --import tsx bench/seed-latency.ts [runs]   (starts the emulators if needed)
import { SQSClient } from "@aws-sdk/client-sqs";
import { ensureQueues, queueEnv } from "../lib/provision.ts";
import { loadSettings } from "../lib/settings.ts";
import { emulatedEndpoints } from "../runtime/common/emulated.ts";
import { startEmulators } from "../runtime/local/emulators.ts";
import { startLocalRuntime } from "../runtime/local/runtime.ts";
import {
  ACCOUNT_ID,
  gatewayClient,
  s3ControlClient,
  TEST_CREDENTIALS,
  TEST_ROLES,
} from "../test/helpers/clients.ts";
import {
  controlEnv,
  onPremControl,
  sqsEndpointOf,
  stopOnPremControl,
} from "../test/helpers/control-plane.ts";
import { createJob, createJobInput, waitForJob } from "../test/helpers/jobs.ts";
import { seedScenario } from "../test/helpers/seed.ts";

const runs = Number(process.argv[2] ?? 10);
// S3BATCH_CONTROL_PLANE=onprem: the control plane on ElasticMQ and Ceph RGW (docs/onprem.md).
const urls = { ...startEmulators(), ...onPremControl(process.env, undefined, 4714) };
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

const sqs = new SQSClient({ region: "us-east-1", endpoint: sqsEndpointOf(urls) });
const queues = await ensureQueues(sqs, "bench");
const settings = loadSettings({
  ...controlEnv(urls),
  S3BATCH_ENDPOINTS: emulatedEndpoints(urls, TEST_CREDENTIALS),
  S3BATCH_INTERNAL_BUCKET: "s3batch-bench",
  ...queueEnv(queues),
  S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
  S3BATCH_ROLES: TEST_ROLES,
  S3BATCH_LOG_LEVEL: "warn",
});
const runtime = await startLocalRuntime({ settings, port: 0 });
const control = s3ControlClient(runtime.url);
const a = gatewayClient(urls.gatewayA);
const b = gatewayClient(urls.gatewayB);

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
  controlPlane: urls.controlSqs ? "ElasticMQ + Ceph RGW" : "LocalStack",
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
// The on-prem parts are this bench's own; the emulators stay up for the next run.
stopOnPremControl(process.env, 4714);
process.exit(0);
