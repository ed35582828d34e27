// Workers that scale out: two runtime processes (one with the API, one a worker without it) share
// one control endpoint and one job. Both run its children; one is SIGKILLed mid-job and the job
// still completes with the exact report. Gateway B's budget is 8 requests for the whole
// deployment, and a counting proxy in front of it sees at most 8 in flight at any moment.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { ChildState } from "../../lib/children/state.ts";
import type { Context } from "../../lib/context.ts";
import { createContext } from "../../lib/create-context.ts";
import { TERMINAL_STATUSES } from "../../lib/jobs/model.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import { loadSettings } from "../../lib/settings.ts";
import { readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient, TEST_CREDENTIALS } from "../helpers/clients.ts";
import { deploymentEnv } from "../helpers/deployment.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { createJobInput, createReportedJob, describeJob } from "../helpers/jobs.ts";
import { freePort, RuntimeProcess } from "../helpers/kill-harness.ts";
import { mixedScenario, tagMismatches } from "../helpers/mixed-scenario.ts";

const BUDGET = 8;
let proxy: FaultProxy | undefined;
const procs: RuntimeProcess[] = [];
let ctx: Context | undefined;
afterAll(async () => {
  for (const p of procs) await p.stop();
  ctx?.gateways.destroy();
  await proxy?.close();
});

describe("two workers on one deployment", () => {
  it("share one job, survive one being killed, and keep gateway B within its budget of 8", async () => {
    // Prepare: gateway B behind a counting proxy, with a deployment-wide budget of 8
    const emulators = inject("emulators");
    proxy = await startFaultProxy(emulators.gatewayB);
    const port = await freePort();
    const endpoints = JSON.stringify([
      { id: "gateway-a", url: emulators.gatewayA, credentials: TEST_CREDENTIALS },
      { id: "gateway-b", url: proxy.url, credentials: TEST_CREDENTIALS, maxConcurrency: BUDGET },
    ]);
    const env = await deploymentEnv(emulators, port, {
      S3BATCH_ENDPOINTS: endpoints,
      S3BATCH_SHARD_ROWS: "500",
      S3BATCH_CHECKPOINT_ROWS: "100",
    });
    ctx = createContext(loadSettings(env), "observer");
    const a = gatewayClient(emulators.gatewayA);
    const b = gatewayClient(emulators.gatewayB);
    const bucket = `workers-${randomUUID().slice(0, 8)}`;
    const s = await mixedScenario(a, b, bucket, 6000);
    const withApi = new RuntimeProcess(env);
    const worker = new RuntimeProcess({ ...env, S3BATCH_MODE: "worker" });
    procs.push(withApi, worker);
    await withApi.start();
    await worker.start();
    const control = s3ControlClient(`http://127.0.0.1:${port}`);
    const TagSet = [{ Key: "workers", Value: "two" }];
    proxy.stats.peakInFlight = 0;

    // Act: the worker is killed once the job is a third of the way through
    const created = await createReportedJob(
      control,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet } }),
    );
    const ref = { accountId: ACCOUNT_ID, jobId: created.jobId };
    const deadline = Date.now() + 300_000;
    for (;;) {
      const p = (await describeJob(control, created.jobId)).ProgressSummary;
      if ((p?.NumberOfTasksSucceeded ?? 0) + (p?.NumberOfTasksFailed ?? 0) >= 2000) break;
      if (Date.now() > deadline) throw new Error("the job did not progress");
      await new Promise((r) => setTimeout(r, 200));
    }
    const workerPid = worker.pid;
    await worker.kill();
    while (!TERMINAL_STATUSES.includes((await jobGet(ctx.store, ref))?.value.status ?? "New")) {
      if (Date.now() > deadline) throw new Error("the job did not end");
      await new Promise((r) => setTimeout(r, 500));
    }
    const job = await describeJob(control, created.jobId);

    // Assess: exact, with children run by both processes, and never more than 8 at B at once
    expect(job.Status).toBe("Complete");
    expect(await readText(a, bucket, created.keys.results("succeeded"))).toBe(s.expected.succeeded);
    expect(await readText(b, bucket, created.keys.results("failed"))).toBe(s.expected.failed);
    const sample = Array.from({ length: 2000 }, (_, i) => i * 3);
    expect(await tagMismatches(a, b, s, TagSet, sample)).toEqual([]);
    const workers = new Set<string>();
    for await (const key of ctx.store.list(paths.children(ref)))
      for (const w of (await ctx.store.get<ChildState>(key))?.value.workers ?? [])
        workers.add(w.split("-")[0] ?? "");
    expect(workers).toContain(String(workerPid));
    expect(workers).toContain(String(withApi.pid));
    expect(proxy.stats.peakInFlight).toBeGreaterThan(1);
    expect(proxy.stats.peakInFlight).toBeLessThanOrEqual(BUDGET);
    console.log(`gateway B: ${proxy.stats.requests} requests, at most ${proxy.stats.peakInFlight} in flight`);
    for (const c of [a, b, control]) c.destroy();
  }, 420_000);
});
