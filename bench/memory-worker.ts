// One side of the memory benchmark, in its own process: the local runtime (API, dispatch,
// children, poll, merge) runs jobs (restore, tagging, checksum, cross-gateway copy) over the
// objects bench/memory.ts seeded, while this process's
// RSS is sampled every 100 ms. Idle is the RSS after a warm-up job over one small object, before
// the measured jobs start. Prints one JSON line.
// Environment: BENCH_OBJECTS (JSON: the manifest's arn and ETag), BENCH_WARMUP (the same, for
// the warm-up manifest), plus the emulator URLs.

import type { CreateJobCommandInput } from "@aws-sdk/client-s3-control";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ensureQueues, queueEnv } from "../lib/provision.ts";
import { loadSettings } from "../lib/settings.ts";
import { emulatedEndpoints } from "../runtime/common/emulated.ts";
import { startLocalRuntime } from "../runtime/local/runtime.ts";
import { ACCOUNT_ID, s3ControlClient, TEST_CREDENTIALS, TEST_ROLES } from "../test/helpers/clients.ts";
import { createJob, createJobInput, waitForJob } from "../test/helpers/jobs.ts";

const mib = () => process.memoryUsage().rss / 1048576;
const urls = JSON.parse(process.env.BENCH_URLS ?? "{}");
const manifest = JSON.parse(process.env.BENCH_MANIFEST ?? "{}");
const warmup = JSON.parse(process.env.BENCH_WARMUP ?? "{}");
const tag = process.env.BENCH_TAG ?? "x";

const sqs = new SQSClient({ region: "us-east-1", endpoint: urls.control });
const queues = await ensureQueues(sqs, `bench-mem-${tag}`);
const settings = loadSettings({
  AWS_ENDPOINT_URL: urls.control,
  S3BATCH_ENDPOINTS: emulatedEndpoints(urls, TEST_CREDENTIALS),
  S3BATCH_INTERNAL_BUCKET: `s3batch-bench-memory-${tag}`,
  ...queueEnv(queues),
  S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
  S3BATCH_ROLES: TEST_ROLES,
  S3BATCH_POLL_DELAY_SECONDS: "1",
  S3BATCH_LOG_LEVEL: "warn",
});
const runtime = await startLocalRuntime({ settings, port: 0 });
const control = s3ControlClient(runtime.url);

const operations: Record<string, CreateJobCommandInput["Operation"]> = {
  restore: { S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "STANDARD" } },
  tagging: { S3PutObjectTagging: { TagSet: [{ Key: "bench", Value: "memory" }] } },
  checksum: { S3ComputeObjectChecksum: { ChecksumAlgorithm: "SHA256", ChecksumType: "FULL_OBJECT" } },
  // The target bucket is on gateway B only: objects on A are streamed across, B's copied within.
  copy: { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${process.env.BENCH_TARGET}` } },
};
const run = async (m: { arn: string; etag: string }, op: CreateJobCommandInput["Operation"]) => {
  const jobId = await createJob(
    control,
    createJobInput(m, op, {
      Report: {
        Bucket: `arn:aws:s3:::${process.env.BENCH_BUCKET}`,
        Format: "Report_CSV_20180820",
        Enabled: true,
        Prefix: "reports",
        ReportScope: "AllTasks",
      },
    }),
  );
  const job = await waitForJob(control, jobId, undefined, 600_000);
  if (job.Status !== "Complete")
    throw new Error(`job ${jobId} ended ${job.Status}: ${JSON.stringify(job.FailureReasons)}`);
  return { status: job.Status, ...job.ProgressSummary };
};

await run(warmup, operations.tagging);
global.gc?.();
await new Promise((r) => setTimeout(r, 1000));
const idle = mib();
let peak = idle;
const sampler = setInterval(() => {
  peak = Math.max(peak, mib());
}, 100);
const jobs: Record<string, unknown> = {};
for (const [name, op] of Object.entries(operations)) jobs[name] = await run(manifest, op);
clearInterval(sampler);
peak = Math.max(peak, mib());
await runtime.stop();
process.stdout.write(
  `${JSON.stringify({ idleMiB: idle, peakMiB: peak, peakMinusIdleMiB: peak - idle, jobs })}\n`,
);
process.exit(0);
