// A gateway that goes away mid-job. A real TCP proxy stands in front of gateway B and closes:
// connections are refused and open ones dropped. An outage shorter than the window costs time,
// not tasks: the job ends Complete with the exact report. An outage longer than the (shortened)
// window fails the tasks it held up, with 503 ServiceUnavailable naming the endpoint, and the
// job still ends.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import { readText } from "../helpers/buckets.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import {
  createJobInput,
  createReportedJob,
  describeJob,
  finishReportedJob,
  runReportedJob,
} from "../helpers/jobs.ts";
import { mixedScenario, tagMismatches } from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const TagSet = [{ Key: "outage", Value: "ridden-out" }];
let goDown = false;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function withProxiedB(
  env: Record<string, string>,
  options: Parameters<typeof startTestRuntime>[1] = {},
): Promise<{ t: TestRuntime; proxy: FaultProxy }> {
  const proxy = await startFaultProxy(inject("emulators").gatewayB);
  const t = await startTestRuntime(env, { ...options, endpoints: { gatewayB: proxy.url } });
  cleanups.push(
    () => t.stop(),
    () => proxy.close(),
  );
  return { t, proxy };
}

/** Resolves once the job has run `share` of its tasks. */
async function progressed(t: TestRuntime, jobId: string, share: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = (await describeJob(t.control, jobId)).ProgressSummary;
    const done = (p?.NumberOfTasksSucceeded ?? 0) + (p?.NumberOfTasksFailed ?? 0);
    if (p?.TotalNumberOfTasks && done >= share * p.TotalNumberOfTasks) return;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach ${share} of its tasks`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a gateway outage", () => {
  it("of 30 s mid-job fails no task: the job ends Complete with the exact report", async () => {
    // Prepare
    const { t, proxy } = await withProxiedB({ S3BATCH_CHECKPOINT_ROWS: "100" });
    const bucket = `out-${randomUUID().slice(0, 8)}`;
    // Over the federation: the real gateway (Ceph RGW) too, when this machine runs it.
    const s = await mixedScenario(t.gatewayA, t.gatewayB, bucket, 4000, undefined, t.gatewayR);

    // Act: gateway B goes away after about 15% of the tasks, for 30 s
    const created = await createReportedJob(
      t.control,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet } }),
    );
    await progressed(t, created.jobId, 0.15);
    await proxy.down();
    await new Promise((r) => setTimeout(r, 30_000));
    const statusWhileDown = (await describeJob(t.control, created.jobId)).Status;
    await proxy.up();
    const done = await finishReportedJob(t.control, t.gatewayB, bucket, created, 120_000);

    // Assess: the job waited for B, and nothing failed because of it
    expect(statusWhileDown).toBe("Active");
    expect(done.job.Status).toBe("Complete");
    expect(done.succeeded).toBe(s.expected.succeeded);
    expect(done.failed).toBe(s.expected.failed);
    expect(await readText(t.gatewayA, bucket, done.keys.results("succeeded"))).toBe(s.expected.succeeded);
    const sample = Array.from({ length: 400 }, (_, i) => i * 10 + (i % 10));
    expect(await tagMismatches(t.gatewayA, t.gatewayB, s, TagSet, sample, t.gatewayR)).toEqual([]);
  }, 240_000);

  it("longer than the window fails the tasks it held up, with 503 naming the endpoint, and the job ends", async () => {
    // Prepare: a 3 s window; the report bucket only on A, so the report does not wait for B. B
    // goes away when its first child starts (after dispatch routed the buckets) and stays away.
    let proxy: FaultProxy | undefined;
    const { t, proxy: p } = await withProxiedB(
      { S3BATCH_OUTAGE_WINDOW_SECONDS: "3", S3BATCH_CHECKPOINT_ROWS: "50" },
      {
        wrap: (queue, handler) =>
          queue !== "child"
            ? handler
            : async (event, invocation) => {
                if (goDown && event.Records.some((r) => r.body.includes('"endpointId":"gateway-b"'))) {
                  goDown = false;
                  await proxy?.down();
                }
                return handler(event, invocation);
              },
      },
    );
    proxy = p;
    const bucket = `win-${randomUUID().slice(0, 8)}`;
    const reports = `win-reports-${randomUUID().slice(0, 8)}`;
    await t.gatewayA.send(new CreateBucketCommand({ Bucket: reports }));
    const s = await mixedScenario(t.gatewayA, t.gatewayB, bucket, 900);

    // Act
    goDown = true;
    const { job, succeeded, failed } = await runReportedJob(
      t.control,
      t.gatewayA,
      reports,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet } }),
      { timeoutMs: 120_000 },
    ).finally(() => proxy?.up());

    // Assess: the bucket lives on both gateways, so every row in it had a task on B: each failed
    // with 503 naming gateway-b (its object's state there is unknown). A's part still ran.
    expect(job.Status).toBe("Complete");
    expect(succeeded).toBe("");
    const lines = failed.trim().split("\n");
    expect(lines).toHaveLength(s.rows);
    for (const [i, line] of lines.entries()) {
      if (s.placeOf(i) === "nobucket") expect(line, line).toMatch(/,failed,404,NoSuchBucket,/);
      else
        expect(line, line).toMatch(
          /,failed,503,ServiceUnavailable,endpoint gateway-b: unavailable for \d+ s \(outage window 3 s\); last error: .*ECONNREFUSED/,
        );
    }
    const onA = Array.from({ length: s.rows }, (_, i) => i).filter((i) =>
      ["a", "both"].includes(s.placeOf(i)),
    );
    expect(await tagMismatches(t.gatewayA, t.gatewayA, { ...s, placeOf: () => "a" }, TagSet, onA)).toEqual(
      [],
    );
  }, 180_000);
});
