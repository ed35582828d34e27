// Two tenants on one deployment. Account A's key, account B's key, each with roles of its own;
// A's role has an explicit Deny on a prefix; a third gateway entry reaches the control endpoint,
// where the internal bucket lives. Account B tries, through S3 Control requests as any SDK sends
// them and through the CLI, to pass A's role, to tag, copy out of and delete A's objects with its
// own role, to read and write A's objects through the extension routes, and to name the internal
// bucket as a manifest, a report bucket, a copy target and an object route. Every attempt is
// refused as specified; A's objects, tags and jobs are then read on the gateways directly and are
// unchanged. A's own job runs as before, except that the denied prefix fails its rows alone with
// 403 AccessDenied naming the role, and the survey of that job predicts those denials.
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  ListJobsCommand,
  type S3ControlClient,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { listKeys, objectExists } from "../helpers/buckets.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import {
  ACCOUNT_ID,
  OTHER_ACCOUNT_ID,
  OTHER_CREDENTIALS,
  s3ControlClient,
  TEST_CREDENTIALS,
} from "../helpers/clients.ts";
import { internalSnapshot } from "../helpers/internal-bucket.ts";
import { createJobInput, finishReportedJob, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { signedRequest } from "../helpers/signing.ts";

const A_ROLE = `arn:aws:iam::${ACCOUNT_ID}:role/team-a`;
const B_ROLE = `arn:aws:iam::${OTHER_ACCOUNT_ID}:role/team-b`;
const B_ADMIN = `arn:aws:iam::${OTHER_ACCOUNT_ID}:role/team-b-admin`;
const A_BUCKET = "tenant-a";
const B_BUCKET = "tenant-b";
const PUBLIC = Array.from({ length: 8 }, (_, i) => `public/${i}.txt`);
const PRIVATE = Array.from({ length: 4 }, (_, i) => `private/${i}.txt`);

const ROLES = [
  {
    arn: A_ROLE,
    policy: {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "OwnBucket",
          Effect: "Allow",
          Action: "s3:*",
          Resource: [`arn:aws:s3:::${A_BUCKET}`, `arn:aws:s3:::${A_BUCKET}/*`],
        },
        { Sid: "NotPrivate", Effect: "Deny", Action: "s3:*", Resource: `arn:aws:s3:::${A_BUCKET}/private/*` },
      ],
    },
  },
  {
    arn: B_ROLE,
    policy: {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "s3:*",
          Resource: [`arn:aws:s3:::${B_BUCKET}`, `arn:aws:s3:::${B_BUCKET}/*`],
        },
      ],
    },
  },
  // Allows every bucket: the internal bucket stays out of reach whatever a policy says.
  {
    arn: B_ADMIN,
    policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] },
  },
];

let t: TestRuntime;
let b: S3ControlClient;
let internal = "";
let bManifest = { arn: "", etag: "" };

async function ensure(s3: S3Client, bucket: string) {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && /BucketAlready/.test(err.name))) throw err;
  }
}

async function put(s3: S3Client, bucket: string, key: string, body: string) {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).ETag ?? "";
}

async function tagsOf(s3: S3Client, key: string): Promise<string> {
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: A_BUCKET, Key: key }));
  return (out.TagSet ?? []).map((x) => `${x.Key}=${x.Value}`).join("&");
}

/** The gateways holding A's bucket: both emulated ones, and the real one when it runs. */
const aGateways = () => [t.gatewayA, t.gatewayB, ...(t.gatewayR ? [t.gatewayR] : [])];

/** A's objects as the gateways hold them: keys and tags, on every gateway. */
async function aState(): Promise<string> {
  const out: string[] = [];
  for (const s3 of aGateways())
    for (const key of await listKeys(s3, A_BUCKET)) out.push(`${key}:${await tagsOf(s3, key)}`);
  return out.join("\n");
}

const bJob = (
  role: string,
  manifest: { arn: string; etag: string },
  op: CreateJobCommandInput["Operation"],
  o: Partial<CreateJobCommandInput> = {},
) =>
  createJobInput(manifest, op, {
    AccountId: OTHER_ACCOUNT_ID,
    RoleArn: role,
    Report: {
      Bucket: `arn:aws:s3:::${B_BUCKET}`,
      Format: "Report_CSV_20180820",
      Enabled: true,
      Prefix: "r",
      ReportScope: "AllTasks",
    },
    ...o,
  });

async function refusedWith(p: Promise<unknown>, name: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as { name?: string; message?: string },
  );
  expect(err, "the request was accepted").toBeDefined();
  expect(err?.name).toBe(name);
  expect(err?.message).toMatch(message);
}

beforeAll(async () => {
  const emulators = inject("emulators");
  const endpoints = JSON.parse(emulatedEndpoints(emulators, TEST_CREDENTIALS)) as unknown[];
  endpoints.push({
    id: "control-store",
    url: emulators.control,
    region: "us-east-1",
    credentials: TEST_CREDENTIALS,
  });
  t = await startTestRuntime({
    S3BATCH_ENDPOINTS: JSON.stringify(endpoints),
    S3BATCH_ROLES: JSON.stringify(ROLES),
    S3BATCH_SHARD_ROWS: "4",
  });
  internal = t.runtime.ctx.settings.internalBucket;
  b = s3ControlClient(t.runtime.url, OTHER_CREDENTIALS);
  // A's objects: public ones on every gateway (the real one, Ceph RGW, too when it runs here),
  // private ones on A.
  for (const s3 of aGateways()) await ensure(s3, A_BUCKET);
  await ensure(t.gatewayB, B_BUCKET);
  for (const key of PUBLIC) for (const s3 of aGateways()) await put(s3, A_BUCKET, key, `${key} here`);
  for (const key of PRIVATE) await put(t.gatewayA, A_BUCKET, key, `secret ${key}`);
  // B's manifest (in B's bucket) names A's objects.
  const rows = [...PUBLIC, ...PRIVATE].map((k) => `${A_BUCKET},${k}\n`).join("");
  bManifest = {
    arn: `arn:aws:s3:::${B_BUCKET}/attack.csv`,
    etag: await put(t.gatewayB, B_BUCKET, "attack.csv", rows),
  };
});
afterAll(async () => {
  b?.destroy();
  await t?.stop();
});

describe("tenants", () => {
  it("keep account B away from account A's role, objects, tags and jobs", async () => {
    // Prepare: A's own job exists before B tries anything
    const aManifest = {
      arn: `arn:aws:s3:::${A_BUCKET}/m.csv`,
      etag: await put(t.gatewayA, A_BUCKET, "m.csv", `${A_BUCKET},${PUBLIC[0]}\n`),
    };
    const aJob =
      (
        await t.control.send(
          new CreateJobCommand(
            createJobInput(
              aManifest,
              { S3PutObjectTagging: { TagSet: [{ Key: "owner", Value: "a" }] } },
              { RoleArn: A_ROLE, ConfirmationRequired: true, Report: { Enabled: false } },
            ),
          ),
        )
      ).JobId ?? "";
    await waitForJob(t.control, aJob, new Set(["Suspended"]));
    const before = await aState();
    const tag = { S3PutObjectTagging: { TagSet: [{ Key: "stolen", Value: "b" }] } };

    // Act and assess, attempt by attempt
    // 1. B passes A's role: refused, naming the role, and no job is written
    await refusedWith(
      b.send(new CreateJobCommand(bJob(A_ROLE, bManifest, tag))),
      "AccessDenied",
      new RegExp(`may not pass the role ${A_ROLE}`),
    );
    // 2-4. B tags, copies out of and deletes A's objects with its own role: every row fails 403
    const ran: Record<string, string> = {};
    for (const [name, op, confirm] of [
      ["tag", tag, false],
      [
        "copy",
        { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${B_BUCKET}`, TargetKeyPrefix: "loot/" } },
        false,
      ],
      ["delete", { S3DeleteObject: {} }, true],
    ] as const) {
      const input = bJob(B_ROLE, bManifest, op as CreateJobCommandInput["Operation"], {
        ConfirmationRequired: confirm,
        Report: {
          Bucket: `arn:aws:s3:::${B_BUCKET}`,
          Format: "Report_CSV_20180820",
          Enabled: true,
          Prefix: `r-${name}`,
          ReportScope: "AllTasks",
        },
      });
      // The SDK's model has no S3DeleteObject: the element goes in on the wire, as the CLI does it.
      if (name === "delete") input.Operation = { S3DeleteObjectTagging: {} };
      const command = new CreateJobCommand(input);
      if (name === "delete")
        command.middlewareStack.add(
          (next) => async (args) => {
            const req = args.request as { body?: unknown };
            if (typeof req.body === "string")
              req.body = req.body.replace(
                /<S3DeleteObjectTagging\s*\/>/,
                "<S3DeleteObject></S3DeleteObject>",
              );
            return next(args);
          },
          { step: "build", priority: "high", name: "deleteOnTheWire" },
        );
      const jobId = (await b.send(command)).JobId ?? "";
      if (confirm) {
        await waitForJob(b, jobId, new Set(["Suspended"]), 30_000);
        await b.send(
          new UpdateJobStatusCommand({
            AccountId: OTHER_ACCOUNT_ID,
            JobId: jobId,
            RequestedJobStatus: "Ready",
          }),
        );
      }
      const done = await finishReportedJob(b, t.gatewayB, B_BUCKET, {
        jobId,
        keys: (await import("../../lib/report/layout.ts")).reportKeys(`r-${name}`, jobId),
      });
      ran[name] = done.failed;
      expect(done.job.Status, name).toBe("Complete");
      expect(done.succeeded, name).toBe("");
      const rows = done.failed.trim().split("\n");
      expect(rows, name).toHaveLength(PUBLIC.length + PRIVATE.length);
      for (const row of rows) {
        expect(row, name).toMatch(new RegExp(`^${A_BUCKET},[^,]+,,failed,403,AccessDenied,`));
        expect(row, name).toContain(`${B_ROLE} is not authorized to perform: s3:`);
      }
    }
    expect(ran.copy).toContain("s3:GetObject on resource: arn:aws:s3:::tenant-a/public/0.txt");
    expect(ran.delete).toContain("s3:DeleteObject on resource: arn:aws:s3:::tenant-a/private/0.txt");
    expect(await listKeys(t.gatewayB, B_BUCKET, "loot/")).toEqual([]);

    // 5. the extension routes: B reads and writes A's objects as its own role, and as A's
    const route = async (method: "GET" | "PUT", role: string, key = PUBLIC[0] ?? "") =>
      fetch(
        await signedRequest(t.runtime.url, "/v20180820/s3batch/object", {
          method,
          query: { bucket: A_BUCKET, key, role },
          credentials: OTHER_CREDENTIALS,
          accountId: OTHER_ACCOUNT_ID,
          ...(method === "PUT" ? { body: "overwritten" } : {}),
        }),
      );
    for (const [method, role, status, message] of [
      ["GET", B_ROLE, 403, `${B_ROLE} is not authorized to perform: s3:GetObject`],
      ["PUT", B_ROLE, 403, `${B_ROLE} is not authorized to perform: s3:PutObject`],
      ["GET", A_ROLE, 403, `may not pass the role ${A_ROLE}`],
      ["PUT", A_ROLE, 403, `may not pass the role ${A_ROLE}`],
    ] as const) {
      const res = await route(method, role);
      const text = await res.text();
      expect(res.status, `${method} as ${role}`).toBe(status);
      expect(text).toContain("<Code>AccessDenied</Code>");
      expect(text).toContain(message);
    }
    // ... and through the CLI: B's create passing A's role, and B's upload into A's bucket
    const env = cliEnv(t.runtime.url, OTHER_CREDENTIALS, OTHER_ACCOUNT_ID);
    const viaA = await runCli(
      ["create", "--manifest", `s3://${B_BUCKET}/attack.csv`, "--untag", "--role-arn", A_ROLE],
      env,
    );
    expect(viaA.code).toBe(1);
    expect(viaA.stderr).toContain(`may not pass the role ${A_ROLE}`);
    const file = join(tmpdir(), `tenants-${randomUUID()}.csv`);
    writeFileSync(file, `${A_BUCKET},${PUBLIC[0]}\n`);
    const upload = await runCli(
      [
        "create",
        "--manifest-file",
        file,
        "--manifest-bucket",
        A_BUCKET,
        "--manifest-key",
        PUBLIC[0] ?? "",
        "--untag",
        "--role-arn",
        B_ROLE,
      ],
      env,
    );
    expect(upload.code).toBe(1);
    expect(upload.stderr).toContain(
      `${B_ROLE} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::${A_BUCKET}/${PUBLIC[0]}`,
    );

    // 6. A's job: B cannot see it, describe it or change it
    await refusedWith(
      b.send(new DescribeJobCommand({ AccountId: OTHER_ACCOUNT_ID, JobId: aJob })),
      "NotFoundException",
      /does not exist/,
    );
    await refusedWith(
      b.send(
        new UpdateJobStatusCommand({ AccountId: OTHER_ACCOUNT_ID, JobId: aJob, RequestedJobStatus: "Ready" }),
      ),
      "NotFoundException",
      /does not exist/,
    );
    const bJobs = await b.send(new ListJobsCommand({ AccountId: OTHER_ACCOUNT_ID }));
    expect((bJobs.Jobs ?? []).map((j) => j.JobId)).not.toContain(aJob);

    // Assess: A's objects and tags are exactly as they were, on both gateways; A's job still waits
    expect(await aState()).toBe(before);
    for (const key of PRIVATE) expect(await objectExists(t.gatewayA, A_BUCKET, key)).toBe(true);
    const a = await t.control.send(new DescribeJobCommand({ AccountId: ACCOUNT_ID, JobId: aJob }));
    expect(a.Job?.Status).toBe("Suspended");
  });

  it("keep the internal bucket out of reach of every input, whatever the role", async () => {
    // Prepare: B's role that allows every bucket. What a refused request could have written: a
    // token, or a job's folder.
    const written = async () =>
      [...(await internalSnapshot(t.runtime.ctx.store.s3, internal)).keys()]
        .filter((k) => k.startsWith("tokens/") || k.startsWith("jobs/"))
        .map((k) => (k.startsWith("jobs/") ? k.split("/").slice(0, 3).join("/") : k))
        .filter((k, i, all) => all.indexOf(k) === i);
    const before = await written();
    const internalArn = `arn:aws:s3:::${internal}`;
    const report = (bucket: string) => ({
      Bucket: `arn:aws:s3:::${bucket}`,
      Format: "Report_CSV_20180820" as const,
      Enabled: true,
      Prefix: "r",
      ReportScope: "AllTasks" as const,
    });
    const tag = { S3PutObjectTagging: { TagSet: [{ Key: "x", Value: "y" }] } };

    // Act and assess: each names the internal bucket, each is a 400 that writes nothing
    for (const [field, input] of [
      [
        "Manifest.Location.ObjectArn",
        bJob(B_ADMIN, { arn: `${internalArn}/jobs/x/job.json`, etag: "x" }, tag),
      ],
      ["Report.Bucket", bJob(B_ADMIN, bManifest, tag, { Report: report(internal) })],
      [
        "Operation.S3PutObjectCopy.TargetResource",
        bJob(B_ADMIN, bManifest, { S3PutObjectCopy: { TargetResource: internalArn } }),
      ],
      [
        "ManifestGenerator.SourceBucket",
        {
          ...bJob(B_ADMIN, bManifest, tag),
          Manifest: undefined,
          ManifestGenerator: {
            S3JobManifestGenerator: { SourceBucket: internalArn, EnableManifestOutput: false },
          },
        },
      ],
    ] as const)
      await refusedWith(
        b.send(new CreateJobCommand(input as CreateJobCommandInput)),
        "InvalidRequestException",
        new RegExp(`${field.replace(/\./g, "\\.")} names a bucket that belongs to s3batch`),
      );
    for (const method of ["GET", "PUT"] as const) {
      const res = await fetch(
        await signedRequest(t.runtime.url, "/v20180820/s3batch/object", {
          method,
          query: { bucket: internal, key: "jobs/x/job.json", role: B_ADMIN },
          credentials: OTHER_CREDENTIALS,
          accountId: OTHER_ACCOUNT_ID,
          ...(method === "PUT" ? { body: "{}" } : {}),
        }),
      );
      expect(res.status, method).toBe(400);
      expect(await res.text()).toContain("names a bucket that belongs to s3batch");
    }
    expect(await written()).toEqual(before);

    // A manifest row naming it fails the job before any task runs.
    const rows = {
      arn: `arn:aws:s3:::${B_BUCKET}/inside.csv`,
      etag: await put(
        t.gatewayB,
        B_BUCKET,
        "inside.csv",
        `${B_BUCKET},ok\n${internal},jobs/${OTHER_ACCOUNT_ID}/x/job.json\n`,
      ),
    };
    const jobId = (await b.send(new CreateJobCommand(bJob(B_ADMIN, rows, tag)))).JobId ?? "";
    const job = await waitForJob(b, jobId);
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons?.[0]).toMatchObject({
      FailureCode: "InvalidManifestContent",
      FailureReason: "manifest row 2 names a bucket that belongs to s3batch",
    });
  });

  it("run A's own job as before, failing only the rows its role denies, which the survey predicted", async () => {
    // Prepare: A tags every one of its objects; the private ones are denied by its role
    const manifest = {
      arn: `arn:aws:s3:::${A_BUCKET}/all.csv`,
      etag: await put(
        t.gatewayA,
        A_BUCKET,
        "all.csv",
        [...PUBLIC, ...PRIVATE].map((k) => `${A_BUCKET},${k}\n`).join(""),
      ),
    };
    const prefix = `r-${randomUUID().slice(0, 8)}`;
    const input = createJobInput(
      manifest,
      { S3PutObjectTagging: { TagSet: [{ Key: "owner", Value: "a" }] } },
      {
        RoleArn: A_ROLE,
        ConfirmationRequired: true,
        Report: {
          Bucket: `arn:aws:s3:::${A_BUCKET}`,
          Format: "Report_CSV_20180820",
          Enabled: true,
          Prefix: prefix,
          ReportScope: "AllTasks",
        },
      },
    );
    const jobId = (await t.control.send(new CreateJobCommand(input))).JobId ?? "";
    await waitForJob(t.control, jobId, new Set(["Suspended"]));

    // Act: survey, then confirm
    const env = cliEnv(t.runtime.url);
    const surveyed = await fetch(
      await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}/survey`, { method: "POST" }),
    );
    expect(surveyed.status).toBe(200);
    let predicted: Record<string, number> = {};
    for (let i = 0; i < 120 && !predicted.AccessDenied; i++) {
      const r = await runCli(["--json", "show", jobId], env);
      const shown = JSON.parse(r.stdout) as {
        progress: { survey?: { status: string; wouldFail: Record<string, number> } };
      };
      if (shown.progress.survey?.status === "done") predicted = shown.progress.survey.wouldFail;
      else await new Promise((r) => setTimeout(r, 250));
    }
    await t.control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT_ID, JobId: jobId, RequestedJobStatus: "Ready" }),
    );
    const { reportKeys } = await import("../../lib/report/layout.ts");
    const done = await finishReportedJob(t.control, t.gatewayA, A_BUCKET, {
      jobId,
      keys: reportKeys(prefix, jobId),
    });

    // Assess: the public rows succeeded (on both gateways), the private rows failed 403 naming the role
    expect(predicted).toEqual({ AccessDenied: PRIVATE.length });
    expect(done.job.Status).toBe("Complete");
    expect(done.job.ProgressSummary).toMatchObject({
      NumberOfTasksSucceeded: PUBLIC.length,
      NumberOfTasksFailed: PRIVATE.length,
    });
    expect(
      done.succeeded
        .trim()
        .split("\n")
        .map((r) => r.split(",")[1]),
    ).toEqual(PUBLIC);
    const failed = done.failed.trim().split("\n");
    expect(failed.map((r) => r.split(",")[1])).toEqual(PRIVATE);
    for (const row of failed) {
      expect(row).toMatch(/,failed,403,AccessDenied,/);
      expect(row).toContain(
        `${A_ROLE} is not authorized to perform: s3:PutObjectTagging on resource: arn:aws:s3:::${A_BUCKET}/private/`,
      );
      expect(row).toContain("explicit deny in statement NotPrivate");
    }
    for (const key of PUBLIC) {
      for (const s3 of aGateways()) expect(await tagsOf(s3, key)).toBe("owner=a");
    }
    for (const key of PRIVATE) expect(await tagsOf(t.gatewayA, key)).toBe("");
  });
});
