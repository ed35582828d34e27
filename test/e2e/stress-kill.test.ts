// The local runtime SIGKILLed mid-job, again and again, and restarted each time: the job still
// ends Complete with the exact report on both gateways, every effect applied, no multipart upload
// left open, and progress resumes within 30 s of each kill. (bench/stress-kill.ts is the large
// version: 100,000 rows and 20 kills.)
import { randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { Context } from "../../lib/context.ts";
import { createContext } from "../../lib/create-context.ts";
import { TERMINAL_STATUSES } from "../../lib/jobs/model.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import { loadSettings } from "../../lib/settings.ts";
import { readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient } from "../helpers/clients.ts";
import { deploymentEnv } from "../helpers/deployment.ts";
import { createJobInput, createReportedJob, describeJob } from "../helpers/jobs.ts";
import { freePort, killRepeatedly, ProgressWatch, RuntimeProcess } from "../helpers/kill-harness.ts";
import { mixedScenario, tagMismatches } from "../helpers/mixed-scenario.ts";

const ROWS = 10_000;
const KILLS = 5;

let proc: RuntimeProcess | undefined;
let ctx: Context | undefined;
afterAll(async () => {
  await proc?.stop();
  ctx?.gateways.destroy();
});

describe("a runtime killed mid-job", () => {
  it(`${KILLS} times still completes the job exactly, resuming within 30 s each time`, async () => {
    // Prepare
    const emulators = inject("emulators");
    const port = await freePort();
    const env = await deploymentEnv(emulators, port, { S3BATCH_CHECKPOINT_ROWS: "200" });
    ctx = createContext(loadSettings(env), "observer");
    const a = gatewayClient(emulators.gatewayA);
    const b = gatewayClient(emulators.gatewayB);
    // The federation's real gateway (Ceph RGW), when this machine runs it.
    const r = emulators.rgw ? gatewayClient(emulators.rgw) : undefined;
    const bucket = `kill-${randomUUID().slice(0, 8)}`;
    const s = await mixedScenario(a, b, bucket, ROWS, undefined, r);
    proc = new RuntimeProcess(env);
    await proc.start();
    const control = s3ControlClient(`http://127.0.0.1:${port}`);
    const TagSet = [{ Key: "killed", Value: "and-restarted" }];

    // Act
    const created = await createReportedJob(
      control,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet } }),
    );
    const ref = { accountId: ACCOUNT_ID, jobId: created.jobId };
    const watch = new ProgressWatch(ctx, ref);
    const ended = async () => {
      const job = ctx ? await jobGet(ctx.store, ref) : undefined;
      return job !== undefined && TERMINAL_STATUSES.includes(job.value.status);
    };
    const kills = await killRepeatedly(proc, KILLS, ended);
    const deadline = Date.now() + 240_000;
    while (!(await ended())) {
      if (Date.now() > deadline) throw new Error("the job did not end");
      await new Promise((r) => setTimeout(r, 500));
    }
    await watch.stop();
    const job = await describeJob(control, created.jobId);

    // Assess
    expect(kills).toHaveLength(KILLS);
    expect(job.Status).toBe("Complete");
    for (const gw of r ? [a, b, r] : [a, b]) {
      expect(await readText(gw, bucket, created.keys.results("succeeded"))).toBe(s.expected.succeeded);
      expect(await readText(gw, bucket, created.keys.results("failed"))).toBe(s.expected.failed);
      expect((await gw.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    }
    const sample = Array.from({ length: 2500 }, (_, i) => i * 4);
    expect(await tagMismatches(a, b, s, TagSet, sample, r)).toEqual([]);
    const stalls = watch.stallsAfter(kills);
    console.log(`status at each kill: ${watch.statusAt(kills).join(", ")}`);
    expect(Math.max(...stalls)).toBeLessThanOrEqual(30_000);
    console.log(
      `kills: ${kills.length}, stalls after each (s): ${stalls.map((x) => (x / 1000).toFixed(1)).join(", ")}`,
    );
    for (const c of [a, b, control, ...(r ? [r] : [])]) c.destroy();
  }, 420_000);
});
