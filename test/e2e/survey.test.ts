// The survey (a dry run) of a mixed restore job: objects on A, on B, on both, missing, a bucket on
// neither, archived objects and ones restore cannot take. `s3batch create --dry-run` prints counts
// equal to a reference computed from the gateways themselves, and leaves the job Suspended; once
// confirmed, its report equals that of the same job run without a survey.

import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Survey } from "../../lib/operations/survey.ts";
import { readText } from "../helpers/buckets.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { describeJob, waitForJob } from "../helpers/jobs.ts";
import { mixedScenario } from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { signedRequest } from "../helpers/signing.ts";

const BUCKET = "svpool";
let t: TestRuntime;
let env: NodeJS.ProcessEnv;
/** In front of gateway B, counting the requests the runtime sends it. */
let proxyB: FaultProxy;
beforeAll(async () => {
  proxyB = await startFaultProxy(inject("emulators").gatewayB);
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "25" }, { endpoints: { gatewayB: proxyB.url } });
  env = cliEnv(t.runtime.url);
});
afterAll(async () => {
  await t?.stop();
  await proxyB?.close();
});

async function head(s3: S3Client, bucket: string, key: string) {
  try {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: h.ContentLength ?? 0, storageClass: h.StorageClass ?? "STANDARD" };
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return undefined;
    throw err;
  }
}

/** What a survey of `rows` must say, from HeadObject on each gateway directly. */
async function reference(rows: string[][]): Promise<Omit<Survey, "status" | "surveyJobId" | "finishedAt">> {
  const out = {
    rows: rows.length,
    endpoints: {} as Survey["endpoints"],
    onSeveralEndpoints: 0,
    missingObjects: 0,
    missingBuckets: 0,
    wouldFail: {} as Record<string, number>,
  };
  for (const [bucket = "", key = ""] of rows) {
    if (bucket !== BUCKET) {
      out.missingBuckets++;
      continue;
    }
    const found: { id: string; size: number; storageClass: string }[] = [];
    for (const [id, s3] of [
      ["gateway-a", t.gatewayA],
      ["gateway-b", t.gatewayB],
    ] as const) {
      const h = await head(s3, bucket, key);
      if (h) found.push({ id, ...h });
    }
    if (found.length === 0) out.missingObjects++;
    if (found.length > 1) out.onSeveralEndpoints++;
    for (const f of found) {
      out.endpoints[f.id] ??= { found: 0, bytes: 0, storageClasses: {} };
      const e = out.endpoints[f.id] as Survey["endpoints"][string];
      e.found++;
      e.bytes += f.size;
      e.storageClasses[f.storageClass] = (e.storageClasses[f.storageClass] ?? 0) + 1;
    }
    if (found.some((f) => f.storageClass !== "GLACIER"))
      out.wouldFail.InvalidObjectState = (out.wouldFail.InvalidObjectState ?? 0) + 1;
  }
  return out;
}

describe("the survey", () => {
  it("counts what each gateway holds before anything changes, and the confirmed job reports as an unsurveyed one", async () => {
    // Prepare: the mixed objects, plus archived ones on A, on B and on both
    await mixedScenario(t.gatewayA, t.gatewayB, BUCKET, 60);
    const archived = ["cold/a", "cold/b", "cold/both"];
    for (const [key, on] of [
      ["cold/a", [t.gatewayA]],
      ["cold/b", [t.gatewayB]],
      ["cold/both", [t.gatewayA, t.gatewayB]],
    ] as const)
      for (const s3 of on)
        await s3.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `${key} body`, StorageClass: "GLACIER" }),
        );
    const manifest = `${await readText(t.gatewayA, BUCKET, "manifest-60.csv")}${archived.map((k) => `${BUCKET},${k}\n`).join("")}`;
    const file = join(tmpdir(), `survey-${Date.now()}.csv`);
    await writeFile(file, manifest);
    const rows = manifest
      .trimEnd()
      .split("\n")
      .map((l) => l.split(","));
    const expected = await reference(rows);
    const restore = ["--restore-days", "1", "--report", `s3://${BUCKET}/survey-reports`];

    // Act: the dry run
    const dry = await runCli(
      ["--json", "create", "--manifest-file", file, "--manifest-bucket", BUCKET, ...restore, "--dry-run"],
      env,
    );
    expect(dry.code, dry.stderr).toBe(0);
    const { jobId, survey } = JSON.parse(dry.stdout) as { jobId: string; survey: Survey };
    const waiting = await describeJob(t.control, jobId);
    const human = await runCli(["show", jobId], env);

    // Assess: the survey's counts are the gateways' own; the job still waits
    expect(survey.status).toBe("done");
    expect({
      rows: survey.rows,
      endpoints: survey.endpoints,
      onSeveralEndpoints: survey.onSeveralEndpoints,
      missingObjects: survey.missingObjects,
      missingBuckets: survey.missingBuckets,
      wouldFail: survey.wouldFail,
    }).toEqual(expected);
    expect(expected).toMatchObject({
      rows: 63,
      missingObjects: 6,
      missingBuckets: 6,
      onSeveralEndpoints: 13,
    });
    expect(waiting.Status).toBe("Suspended");
    expect(human.stdout).toMatch(/Survey \(done\):/);
    expect(human.stdout).toMatch(/Missing buckets:\s+6/);

    // Act: confirm it; then run the same job without a survey
    const before = proxyB.stats.requests;
    expect((await runCli(["confirm", jobId], env)).code).toBe(0);
    const surveyed = await waitForJob(t.control, jobId);
    const between = proxyB.stats.requests;
    const plain = await runCli(
      ["create", "--manifest-file", file, "--manifest-bucket", BUCKET, ...restore],
      env,
    );
    const unsurveyed = await waitForJob(t.control, plain.stdout.trim());
    const plainId = plain.stdout.trim();

    // Assess: the same outcome, row for row
    expect(surveyed.Status).toBe("Complete");
    const counts = (j: typeof surveyed) => [
      j.ProgressSummary?.TotalNumberOfTasks,
      j.ProgressSummary?.NumberOfTasksSucceeded,
      j.ProgressSummary?.NumberOfTasksFailed,
    ];
    expect(counts(surveyed)).toEqual(counts(unsurveyed));
    const report = async (id: string, status: string) =>
      readText(t.gatewayA, BUCKET, `survey-reports/job-${id}/results/${id}-${status}.csv`);
    // The confirmed job looked every row up itself: it asked B about each row routed there,
    // although the survey had found fewer of them on B.
    const routedToB = rows.filter(([bucket]) => bucket === BUCKET).length;
    expect(survey.endpoints["gateway-b"]?.found).toBeLessThan(routedToB);
    expect(between - before).toBeGreaterThanOrEqual(routedToB);
    for (const status of ["succeeded", "failed"])
      expect(await report(jobId, status), status).toBe(await report(plainId, status));
    expect(surveyed.ProgressSummary?.NumberOfTasksFailed).toBe(
      expected.missingBuckets + expected.missingObjects + (expected.wouldFail.InvalidObjectState ?? 0),
    );
  });

  it("never hides an object: one written after the survey is tagged once the job is confirmed", async () => {
    // Prepare: a manifest of two objects, the second not written yet
    const key = `late/${Date.now()}`;
    await t.gatewayA.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${key}-early`, Body: "x" }));
    const file = join(tmpdir(), `survey-late-${Date.now()}.csv`);
    await writeFile(file, `${BUCKET},${key}-early\n${BUCKET},${key}-late\n`);
    const tag = ["--tag", "seen=after-survey", "--report", `s3://${BUCKET}/survey-late`];

    // Act: survey it (the second is missing), write the second, then confirm
    const dry = await runCli(
      ["--json", "create", "--manifest-file", file, "--manifest-bucket", BUCKET, ...tag, "--dry-run"],
      env,
    );
    expect(dry.code, dry.stderr).toBe(0);
    const { jobId, survey } = JSON.parse(dry.stdout) as { jobId: string; survey: Survey };
    await t.gatewayB.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${key}-late`, Body: "y" }));
    expect((await runCli(["confirm", jobId], env)).code).toBe(0);
    const job = await waitForJob(t.control, jobId);

    // Assess: the survey said missing; the job found it, tagged it, and reports it succeeded
    expect(survey.missingObjects).toBe(1);
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 2, NumberOfTasksFailed: 0 });
    const tags = await t.gatewayB.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: `${key}-late` }));
    expect(tags.TagSet).toEqual([{ Key: "seen", Value: "after-survey" }]);
    const succeeded = await readText(
      t.gatewayA,
      BUCKET,
      `survey-late/job-${jobId}/results/${jobId}-succeeded.csv`,
    );
    expect(succeeded).toContain(`${BUCKET},${key}-late,,succeeded,200,,Successful`);
  });

  it("counts, for a copy, the bytes that would cross gateways", async () => {
    // The target bucket is on B only: every object read on A would cross.
    await t.gatewayB.send(new CreateBucketCommand({ Bucket: "svtarget" })).catch(() => {});
    const rows = (await readText(t.gatewayA, BUCKET, "manifest-60.csv"))
      .trimEnd()
      .split("\n")
      .map((l) => l.split(","));
    const expected = await reference(rows);
    const dry = await runCli(
      [
        "--json",
        "create",
        "--manifest",
        `s3://${BUCKET}/manifest-60.csv`,
        "--copy-to",
        "s3://svtarget/c",
        "--dry-run",
      ],
      env,
    );
    expect(dry.code, dry.stderr).toBe(0);
    const { survey } = JSON.parse(dry.stdout) as { survey: Survey };
    expect(survey.crossGatewayBytes).toBe(expected.endpoints["gateway-a"]?.bytes);
    expect(survey.crossGatewayBytes).toBeGreaterThan(0);
  });

  it("is refused for a job that is not waiting for confirmation", async () => {
    const { jobs } = JSON.parse((await runCli(["--json", "ls", "--status", "Complete"], env)).stdout) as {
      jobs: { JobId: string }[];
    };
    const done = jobs[0]?.JobId ?? "";
    const r = await fetch(new URL(`/v20180820/jobs/${done}/survey`, t.runtime.url), { method: "POST" });
    expect(r.status).toBe(403); // unsigned
    const signed = await fetch(
      await signedRequest(t.runtime.url, `/v20180820/jobs/${done}/survey`, { method: "POST" }),
    );
    expect(signed.status).toBe(409);
    expect(await signed.text()).toContain("JobStatusException");
    // ListJobs never shows a survey's own job
    expect(jobs.every((j) => !j.JobId.endsWith("_s"))).toBe(true);
  });
});
