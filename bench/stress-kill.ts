// Crash recovery under load: a tagging job of --rows rows over both gateways (objects on A, on B
// and on both, missing objects, a bucket no gateway holds) runs once undisturbed, then once more
// while the whole local runtime process is SIGKILLed --kills times at random 3-10 s intervals and
// restarted each time. It checks that the second job ends Complete with exactly one report row
// per manifest row on both gateways holding the report bucket, that every sampled effect is
// applied on every gateway holding the object, and that no multipart upload is left open; and it
// prints both job times and the longest stall after a kill (target: at most 30 s).
// Run: npm run stress:kill [-- --rows 100000 --kills 20]
import { randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { createContext } from "../lib/create-context.ts";
import { TERMINAL_STATUSES } from "../lib/jobs/model.ts";
import { jobGet } from "../lib/jobs/store.ts";
import { loadSettings } from "../lib/settings.ts";
import { startEmulators } from "../runtime/local/emulators.ts";
import { readText } from "../test/helpers/buckets.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient } from "../test/helpers/clients.ts";
import { onPremControl, stopOnPremControl } from "../test/helpers/control-plane.ts";
import { deploymentEnv } from "../test/helpers/deployment.ts";
import { createJobInput, createReportedJob, describeJob } from "../test/helpers/jobs.ts";
import { killRepeatedly, ProgressWatch, RuntimeProcess } from "../test/helpers/kill-harness.ts";
import { mixedScenario, tagMismatches } from "../test/helpers/mixed-scenario.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return (i > 0 ? process.argv[i + 1] : undefined) ?? def;
};
const ROWS = Number(arg("rows", "100000"));
const KILLS = Number(arg("kills", "20"));
const PORT = 8797;

// S3BATCH_CONTROL_PLANE=onprem: the control plane on ElasticMQ and Ceph RGW (docs/onprem.md).
const emulators = { ...startEmulators(), ...onPremControl(process.env, undefined, 4714) };
const a = gatewayClient(emulators.gatewayA);
const b = gatewayClient(emulators.gatewayB);
const bucket = `stress-${randomUUID().slice(0, 8)}`;
process.stderr.write(`writing ${ROWS} rows' objects to both gateways...\n`);
const setupStarted = performance.now();
const scenario = await mixedScenario(a, b, bucket, ROWS);
const setupSeconds = (performance.now() - setupStarted) / 1000;

async function runJob(kills: number, tag: string) {
  const env = await deploymentEnv(emulators, PORT, { S3BATCH_CHECKPOINT_ROWS: "1000" });
  const ctx = createContext(loadSettings(env), "observer");
  const proc = new RuntimeProcess(env);
  await proc.start();
  const control = s3ControlClient(`http://127.0.0.1:${PORT}`);
  const TagSet = [{ Key: "run", Value: tag }];
  const started = performance.now();
  const created = await createReportedJob(
    control,
    bucket,
    createJobInput(scenario.manifest, { S3PutObjectTagging: { TagSet } }),
  );
  const ref = { accountId: ACCOUNT_ID, jobId: created.jobId };
  const watch = new ProgressWatch(ctx, ref);
  const ended = async () => {
    const job = await jobGet(ctx.store, ref);
    return job !== undefined && TERMINAL_STATUSES.includes(job.value.status);
  };
  const killedAt = await killRepeatedly(proc, kills, ended);
  while (!(await ended())) await new Promise((r) => setTimeout(r, 250));
  const seconds = (performance.now() - started) / 1000;
  await watch.stop();
  const job = await describeJob(control, created.jobId);
  const reportsExact: Record<string, boolean> = {};
  const openUploads: Record<string, number> = {};
  for (const [name, gw] of [
    ["gateway-a", a],
    ["gateway-b", b],
  ] as const) {
    reportsExact[name] =
      (await readText(gw, bucket, created.keys.results("succeeded"))) === scenario.expected.succeeded &&
      (await readText(gw, bucket, created.keys.results("failed"))) === scenario.expected.failed;
    openUploads[name] = (
      (await gw.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []
    ).length;
  }
  const sample = Array.from({ length: 2500 }, (_, i) => Math.floor((i * ROWS) / 2500));
  const mismatches = await tagMismatches(a, b, scenario, TagSet, sample);
  const stalls = watch.stallsAfter(killedAt);
  await proc.stop();
  control.destroy();
  ctx.gateways.destroy();
  return {
    seconds: Number(seconds.toFixed(1)),
    status: job.Status,
    succeeded: job.ProgressSummary?.NumberOfTasksSucceeded,
    failed: job.ProgressSummary?.NumberOfTasksFailed,
    kills: killedAt.length,
    longestStallSeconds: stalls.length ? Number((Math.max(...stalls) / 1000).toFixed(1)) : 0,
    stallsSeconds: stalls.map((s) => Number((s / 1000).toFixed(1))),
    reportsExact,
    openUploads,
    effectsChecked: sample.length,
    effectMismatches: mismatches.length,
  };
}

process.stderr.write("clean run...\n");
const clean = await runJob(0, "clean");
process.stderr.write(`run with ${KILLS} kills...\n`);
const killed = await runJob(KILLS, "killed");
const ok =
  killed.status === "Complete" &&
  Object.values(killed.reportsExact).every(Boolean) &&
  Object.values(killed.openUploads).every((n) => n === 0) &&
  killed.effectMismatches === 0 &&
  killed.longestStallSeconds <= 30;
const result = {
  rows: ROWS,
  controlPlane: emulators.controlSqs ? "ElasticMQ + Ceph RGW" : "LocalStack",
  setupSeconds: Number(setupSeconds.toFixed(1)),
  clean,
  killed,
  ok,
};
console.log(JSON.stringify(result, null, 2));
console.log(`
| run | kills | job s | longest stall s | status | report exact (a, b) | open uploads | effects checked / wrong |
|---|---|---|---|---|---|---|---|
| clean | 0 | ${clean.seconds} | - | ${clean.status} | ${clean.reportsExact["gateway-a"]}, ${clean.reportsExact["gateway-b"]} | ${(clean.openUploads["gateway-a"] ?? 0) + (clean.openUploads["gateway-b"] ?? 0)} | ${clean.effectsChecked} / ${clean.effectMismatches} |
| killed | ${killed.kills} | ${killed.seconds} | ${killed.longestStallSeconds} | ${killed.status} | ${killed.reportsExact["gateway-a"]}, ${killed.reportsExact["gateway-b"]} | ${(killed.openUploads["gateway-a"] ?? 0) + (killed.openUploads["gateway-b"] ?? 0)} | ${killed.effectsChecked} / ${killed.effectMismatches} |
`);
a.destroy();
b.destroy();
// The on-prem parts are this bench's own; the emulators stay up for the next run.
stopOnPremControl(process.env, 4714);
process.exit(ok ? 0 : 1);
