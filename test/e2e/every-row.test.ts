// A report is a promise, whatever happens to the job. A tagging job over both gateways cancelled
// mid-run reports every task that ran on any gateway (every object carrying its tag, read back
// from the gateways, is a succeeded row) and nothing else, its counts equal to the report's rows.
// A report gateway that goes down (a real proxy taken away) past the outage window costs that
// copy of the report: the job ends Complete, the report is whole on the other gateway, and
// DescribeJob and the progress route name the gateway without it; with every report gateway
// down the job ends Failed ReportFailed. The report route answers a 5xx when no gateway can give
// the report, and the CLI exits 1.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, GetObjectTaggingCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { UpdateJobStatusCommand } from "@aws-sdk/client-s3-control";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readText } from "../helpers/buckets.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import {
  createJobInput,
  createReportedJob,
  describeJob,
  finishReportedJob,
  waitForJob,
} from "../helpers/jobs.ts";
import {
  EVERY_OBJECT_EXISTS,
  EVERY_OBJECT_EXISTS_THREE,
  holdersOf,
  keyOf,
  mixedScenario,
} from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

describe("a cancelled job's report", () => {
  let t: TestRuntime;
  beforeAll(async () => {
    // Small shards and checkpoints: children on both gateways stop at different rows.
    t = await startTestRuntime(
      { S3BATCH_SHARD_ROWS: "500", S3BATCH_CHECKPOINT_ROWS: "50" },
      { childWorkers: 3 },
    );
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("holds every task that ran on any gateway, once, and its counts equal the report", async () => {
    // Prepare: 4,000 rows, every object on A, on B or on both
    const bucket = `cancel-${randomUUID().slice(0, 8)}`;
    const r = t.gatewayR;
    const s = await mixedScenario(
      t.gatewayA,
      t.gatewayB,
      bucket,
      4000,
      r ? EVERY_OBJECT_EXISTS_THREE : EVERY_OBJECT_EXISTS,
      r,
    );
    const tag = randomUUID().slice(0, 12);

    // Act: cancel once about 800 tasks have run
    const created = await createReportedJob(
      t.control,
      bucket,
      createJobInput(s.manifest, { S3PutObjectTagging: { TagSet: [{ Key: "run", Value: tag }] } }),
    );
    for (;;) {
      const job = await describeJob(t.control, created.jobId);
      const done =
        (job.ProgressSummary?.NumberOfTasksSucceeded ?? 0) + (job.ProgressSummary?.NumberOfTasksFailed ?? 0);
      if (done >= 800 || ["Completing", "Complete"].includes(job.Status ?? "")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await t.control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT_ID,
        JobId: created.jobId,
        RequestedJobStatus: "Cancelled",
      }),
    );
    const done = await finishReportedJob(t.control, t.gatewayA, bucket, created);

    // Assess: the objects carrying the tag, on any gateway, are exactly the succeeded rows
    const tagged = new Set<string>();
    const limit = pLimit(16);
    await Promise.all(
      Array.from({ length: s.rows }, (_, i) => i).flatMap((i) => {
        const on = holdersOf(s.placeOf(i), t.gatewayA, t.gatewayB, r);
        return on.map((s3) =>
          limit(async () => {
            const got = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: keyOf(i) }));
            if ((got.TagSet ?? []).some((x) => x.Key === "run" && x.Value === tag)) tagged.add(keyOf(i));
          }),
        );
      }),
    );
    const succeeded = done.succeeded.split("\n").filter(Boolean);
    const failed = done.failed.split("\n").filter(Boolean);
    const reported = succeeded.map((l) => l.split(",")[1]);
    expect(done.job.Status).toBe("Cancelled");
    expect(tagged.size).toBeGreaterThan(0);
    expect(tagged.size).toBeLessThan(s.rows);
    expect([...tagged].sort()).toEqual([...reported].sort());
    expect(new Set(reported).size).toBe(reported.length);
    expect(failed).toEqual([]);
    expect(done.job.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: s.rows,
      NumberOfTasksSucceeded: succeeded.length,
      NumberOfTasksFailed: failed.length,
    });
  }, 240_000);
});

describe("report gateways", () => {
  let t: TestRuntime;
  let proxyA: FaultProxy;
  let proxyB: FaultProxy;
  let env: NodeJS.ProcessEnv;
  const id = randomUUID().slice(0, 8);
  const SOURCE = `rpt-src-${id}`; // on A only: the tasks never touch B
  const REPORTS = `rpt-dst-${id}`; // on both: the report goes to each
  beforeAll(async () => {
    const emulators = inject("emulators");
    proxyA = await startFaultProxy(emulators.gatewayA);
    proxyB = await startFaultProxy(emulators.gatewayB);
    t = await startTestRuntime(
      { S3BATCH_OUTAGE_WINDOW_SECONDS: "3" },
      { endpoints: { gatewayA: proxyA.url, gatewayB: proxyB.url } },
    );
    env = cliEnv(t.runtime.url);
    await t.gatewayA.send(new CreateBucketCommand({ Bucket: SOURCE }));
    for (const s3 of [t.gatewayA, t.gatewayB]) await s3.send(new CreateBucketCommand({ Bucket: REPORTS }));
  });
  afterAll(async () => {
    await t?.stop();
    await proxyA?.close();
    await proxyB?.close();
  });

  const manifestOf = async (rows: string[]) => {
    const key = `m-${randomUUID().slice(0, 8)}.csv`;
    const put = await t.gatewayA.send(
      new PutObjectCommand({ Bucket: SOURCE, Key: key, Body: rows.join("") }),
    );
    return { arn: `arn:aws:s3:::${SOURCE}/${key}`, etag: put.ETag ?? "" };
  };

  it("lose the copy on a gateway that is down, not the report, and the report route answers 5xx when none can give it", async () => {
    // Prepare: 20 objects on A; the job is planned (its report routed to A and B), then B goes away
    const keys = Array.from({ length: 20 }, (_, i) => `o/${i}`);
    for (const key of keys)
      await t.gatewayA.send(new PutObjectCommand({ Bucket: SOURCE, Key: key, Body: key }));
    const created = await createReportedJob(
      t.control,
      REPORTS,
      createJobInput(
        await manifestOf(keys.map((k) => `${SOURCE},${k}\n`)),
        { S3PutObjectTagging: { TagSet: [{ Key: "r", Value: "1" }] } },
        { ConfirmationRequired: true },
      ),
    );
    await waitForJob(t.control, created.jobId, new Set(["Suspended"]));
    await proxyB.down();

    // Act
    await t.control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT_ID,
        JobId: created.jobId,
        RequestedJobStatus: "Ready",
      }),
    );
    const job = await waitForJob(t.control, created.jobId);
    const progress = JSON.parse((await runCli(["--json", "show", created.jobId], env)).stdout) as {
      progress: { failureReasons: { FailureCode: string; FailureReason: string }[] };
    };
    const fromRoute = await runCli(["report", created.jobId], env);
    await proxyA.down();
    const noGateway = await runCli(["report", created.jobId], env);
    await proxyA.up();
    await proxyB.up();

    // Assess: Complete, the whole report on A, the gateway without it named
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 20, NumberOfTasksFailed: 0 });
    expect(job.FailureReasons).toEqual([
      expect.objectContaining({
        FailureCode: "ReportIncomplete",
        FailureReason: expect.stringMatching(/^the report was not written to gateway-b: /),
      }),
    ]);
    expect(progress.progress.failureReasons.map((f) => f.FailureReason).join()).toMatch(/gateway-b/);
    const onA = await readText(t.gatewayA, REPORTS, created.keys.results("succeeded"));
    expect(onA).toBe(keys.map((k) => `${SOURCE},${k},,succeeded,200,,Successful\n`).join(""));
    expect(JSON.parse(await readText(t.gatewayA, REPORTS, created.keys.manifest)).Results).toHaveLength(1);
    // The route reads it from A; with A down too, a 5xx, and the CLI says so with exit 1.
    expect(fromRoute.code).toBe(0);
    expect(fromRoute.stdout).toBe(onA);
    expect(noGateway.code).toBe(1);
    expect(noGateway.stderr).toMatch(/ServiceUnavailable \(HTTP 503\).*could not be read/);
  }, 180_000);

  it("fail the job ReportFailed only when every gateway holding the report bucket is down", async () => {
    // Prepare: rows of a bucket nobody holds (no child runs); the job is planned, then both go away
    const created = await createReportedJob(
      t.control,
      REPORTS,
      createJobInput(
        await manifestOf(["no-such-bucket-xyz,k\n"]),
        { S3PutObjectTagging: { TagSet: [{ Key: "r", Value: "1" }] } },
        { ConfirmationRequired: true },
      ),
    );
    await waitForJob(t.control, created.jobId, new Set(["Suspended"]));
    await t.control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT_ID,
        JobId: created.jobId,
        RequestedJobStatus: "Ready",
      }),
    );
    await proxyA.down();
    await proxyB.down();

    // Act
    const job = await waitForJob(t.control, created.jobId).finally(async () => {
      await proxyA.up();
      await proxyB.up();
    });

    // Assess
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons?.[0]?.FailureCode).toBe("ReportFailed");
    expect(job.FailureReasons?.[0]?.FailureReason).toMatch(/gateway-a: .*gateway-b: /);
  }, 180_000);
});
