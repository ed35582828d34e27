// S3DeleteObject, s3batch's own operation, on versioned and unversioned buckets on both gateways:
// objects go where they are, a row with a VersionId deletes that version, a row without one adds a
// delete marker on a versioned bucket, an object under legal hold fails with the gateway's code,
// and the report is exact. A delete job must wait for confirmation.
import { createHash } from "node:crypto";
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJobXml } from "../helpers/bad-create-job.ts";
import { freshBucket, readText } from "../helpers/buckets.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { signedRequest } from "../helpers/signing.ts";

let t: TestRuntime;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  t = await startTestRuntime();
  env = cliEnv(t.runtime.url);
});
afterAll(async () => {
  await t?.stop();
});

const PLAIN = "delplain";
const VERSIONED = "delver";
const LOCKED = "dellock";

async function present(s3: S3Client, Bucket: string, Key: string, VersionId?: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket, Key, ...(VersionId ? { VersionId } : {}) }));
    return true;
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
    throw err;
  }
}

async function versions(s3: S3Client, Bucket: string, Prefix: string) {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix }));
  return {
    versions: (out.Versions ?? []).map((v) => v.VersionId ?? ""),
    markers: (out.DeleteMarkers ?? []).filter((m) => m.IsLatest).length,
  };
}

async function lockedBucket(s3: S3Client) {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: LOCKED, ObjectLockEnabledForBucket: true }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && /BucketAlready/.test(err.name))) throw err;
  }
}

describe("S3DeleteObject", () => {
  it("is refused without ConfirmationRequired, and a raw XML request can send it", async () => {
    await freshBucket(t.gatewayA, "delraw");
    const manifest = await t.gatewayA.send(
      new PutObjectCommand({ Bucket: "delraw", Key: "manifest.csv", Body: "delraw,nothing-here\n" }),
    );
    const send = async (confirm: string) => {
      const body = createJobXml({
        ConfirmationRequired: confirm,
        Operation: "<S3DeleteObject></S3DeleteObject>",
        ClientRequestToken: `delete-${confirm}-${Date.now()}`,
        Manifest: `<Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::delraw/manifest.csv</ObjectArn><ETag>${manifest.ETag}</ETag></Location>`,
        Report: "<Enabled>false</Enabled>",
      });
      const req = await signedRequest(t.runtime.url, "/v20180820/jobs", { method: "POST", body });
      const res = await fetch(req);
      return { status: res.status, text: await res.text() };
    };
    const refused = await send("false");
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("<Code>InvalidRequestException</Code>");
    expect(refused.text).toContain("ConfirmationRequired");
    const accepted = await send("true");
    expect(accepted.status, accepted.text).toBe(200);
    const jobId = /<JobId>([^<]+)<\/JobId>/.exec(accepted.text)?.[1] ?? "";
    const job = await waitForJob(t.control, jobId, new Set(["Suspended", "Failed"]));
    expect(job.Status).toBe("Suspended");
    expect((await runCli(["cancel", jobId], env)).code).toBe(0);
  });

  it("deletes objects and versions where they are, adds delete markers, fails locked ones, reports exactly", async () => {
    // Prepare
    const a = t.gatewayA;
    const b = t.gatewayB;
    for (const s3 of [a, b]) {
      await freshBucket(s3, PLAIN);
      await freshBucket(s3, VERSIONED);
      await s3.send(
        new PutBucketVersioningCommand({ Bucket: VERSIONED, VersioningConfiguration: { Status: "Enabled" } }),
      );
    }
    await lockedBucket(b);
    const put = (s3: S3Client, Bucket: string, Key: string, extra: object = {}) =>
      s3.send(new PutObjectCommand({ Bucket, Key, Body: Key, ...extra }));
    await put(a, PLAIN, "on-a");
    await put(b, PLAIN, "on-b");
    await put(a, PLAIN, "on-both");
    await put(b, PLAIN, "on-both");
    await put(a, VERSIONED, "marker");
    await put(b, VERSIONED, "marker");
    const old = (await put(a, VERSIONED, "two-versions")).VersionId ?? "";
    const latest = (await put(a, VERSIONED, "two-versions")).VersionId ?? "";
    const md5 = createHash("md5").update("held").digest("base64");
    const held =
      (await put(b, LOCKED, "held", { ObjectLockLegalHoldStatus: "ON", ContentMD5: md5 })).VersionId ?? "";
    // AWS's rule: a manifest gives version IDs for all its rows or for none; so, two jobs.
    const objects = [
      `${PLAIN},on-a`,
      `${PLAIN},on-b`,
      `${PLAIN},on-both`,
      `${PLAIN},nowhere`,
      `${VERSIONED},marker`,
    ];
    const objectVersions = [`${VERSIONED},two-versions,${old}`, `${LOCKED},held,${held}`];
    await put(a, PLAIN, "objects.csv", { Body: `${objects.join("\n")}\n` });
    await put(a, PLAIN, "versions.csv", { Body: `${objectVersions.join("\n")}\n` });

    // Act: create through the CLI (which always asks for confirmation), confirm, wait
    const run = async (manifest: string, fields: string, untouchedCheck: () => Promise<boolean>) => {
      const created = await runCli(
        ["create", "--manifest", `s3://${PLAIN}/${manifest}`, "--fields", fields, "--delete"].concat([
          "--report",
          `s3://${PLAIN}/reports`,
        ]),
        env,
      );
      expect(created.code, created.stderr).toBe(0);
      const jobId = created.stdout.trim();
      const waiting = await waitForJob(t.control, jobId, new Set(["Suspended", "Failed"]));
      expect(waiting.Status, JSON.stringify(waiting.FailureReasons)).toBe("Suspended");
      const untouched = await untouchedCheck();
      const confirmed = await runCli(["confirm", jobId], env);
      expect(confirmed.code, confirmed.stderr).toBe(0);
      const done = await waitForJob(t.control, jobId);
      const prefix = `reports/job-${jobId}/results/${jobId}`;
      return {
        untouched,
        done,
        succeeded: await readText(a, PLAIN, `${prefix}-succeeded.csv`),
        failed: await readText(a, PLAIN, `${prefix}-failed.csv`),
      };
    };
    const first = await run("objects.csv", "Bucket,Key", () => present(a, PLAIN, "on-a"));
    const second = await run("versions.csv", "Bucket,Key,VersionId", () =>
      present(a, VERSIONED, "two-versions", old),
    );

    // Assess: nothing changed while the jobs waited
    expect(first.untouched).toBe(true);
    expect(second.untouched).toBe(true);
    // the objects are gone where they were, on both gateways
    expect(await present(a, PLAIN, "on-a")).toBe(false);
    expect(await present(b, PLAIN, "on-b")).toBe(false);
    expect(await present(a, PLAIN, "on-both")).toBe(false);
    expect(await present(b, PLAIN, "on-both")).toBe(false);
    for (const s3 of [a, b]) {
      const v = await versions(s3, VERSIONED, "marker");
      expect(v.markers).toBe(1); // a delete marker on top ...
      expect(v.versions).toHaveLength(1); // ... of the version, which stays
    }
    // the version named is gone, the latest stays; the held one stays
    expect((await versions(a, VERSIONED, "two-versions")).versions).toEqual([latest]);
    expect(await present(b, LOCKED, "held", held)).toBe(true);
    // the reports, row by row
    expect(first.done.Status).toBe("Complete");
    expect(first.done.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 5,
      NumberOfTasksSucceeded: 4,
      NumberOfTasksFailed: 1,
    });
    expect(first.succeeded).toBe(
      [`${PLAIN},on-a`, `${PLAIN},on-b`, `${PLAIN},on-both`, `${VERSIONED},marker`]
        .map((r) => `${r},,succeeded,200,,Successful\n`)
        .join(""),
    );
    expect(first.failed).toBe(
      `${PLAIN},nowhere,,failed,404,NoSuchKey,The specified key does not exist on any endpoint\n`,
    );
    expect(second.done.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 2,
      NumberOfTasksSucceeded: 1,
      NumberOfTasksFailed: 1,
    });
    expect(second.succeeded).toBe(`${VERSIONED},two-versions,${old},succeeded,200,,Successful\n`);
    // AccessDenied, with the gateway's status: 403 on AWS, 400 from moto.
    expect(second.failed).toMatch(
      new RegExp(`^${LOCKED},held,${held},failed,40[03],AccessDenied,"?endpoint gateway-b: [^\n]+\n$`),
    );
  });
});
