// A real gateway, not an emulator: Ceph RGW (Reef, Debian trixie), on a one-node RADOS cluster and
// on its dbstore backend (the s3gw way), started by gateways/ceph.sh. RGW's dbstore answers a
// CopyObject with 200 and writes nothing: an unverified copy job there reports every row
// succeeded, and the same job with `--verify` reports every row EffectNotApplied naming the
// gateway, while on RADOS the verified job succeeds with every copy in place. Each gateway's
// capabilities are probed, shown by `s3batch gateways`, and a survey predicts, with the
// gateway's own code, the tasks that would fail where a capability is missing.
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { GatewayCapabilities } from "../../lib/endpoints/capabilities.ts";
import type { Survey } from "../../lib/operations/survey.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { gatewayClient, TEST_CREDENTIALS } from "../helpers/clients.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const emulators = inject("emulators");
const PROBE = "s3batch-probe";
let t: TestRuntime;
let rados: S3Client;
let dbstore: S3Client;

beforeAll(async () => {
  if (!emulators.rgw || !emulators.rgwDbstore)
    throw new Error("Ceph RGW is not running here (see the setup's banner)");
  rados = gatewayClient(emulators.rgw);
  dbstore = gatewayClient(emulators.rgwDbstore);
  // The probe buckets exist before the runtime starts, as an operator would have them: the runtime
  // probes at start.
  const gatewayA = gatewayClient(emulators.gatewayA);
  for (const s3 of [rados, dbstore, gatewayA])
    await s3.send(new CreateBucketCommand({ Bucket: PROBE })).catch(() => {});
  gatewayA.destroy();
  const entry = (id: string, url: string) => ({ id, url, credentials: TEST_CREDENTIALS, probeBucket: PROBE });
  t = await startTestRuntime({
    S3BATCH_ENDPOINTS: JSON.stringify([
      entry("gateway-a", emulators.gatewayA),
      entry("rgw-rados", emulators.rgw),
      entry("rgw-dbstore", emulators.rgwDbstore),
    ]),
  });
});
afterAll(async () => {
  await t?.stop();
  rados?.destroy();
  dbstore?.destroy();
});

/** Ten objects in a new bucket on `s3`, a target bucket beside it, and the manifest (on the bucket). */
async function copyScenario(s3: S3Client) {
  const id = randomUUID().slice(0, 8);
  const [source, target] = [`vsrc-${id}`, `vdst-${id}`];
  for (const b of [source, target]) await s3.send(new CreateBucketCommand({ Bucket: b }));
  const keys = Array.from({ length: 10 }, (_, i) => `o/${i}`);
  for (const key of keys)
    await s3.send(new PutObjectCommand({ Bucket: source, Key: key, Body: `body of ${key}` }));
  const put = await s3.send(
    new PutObjectCommand({
      Bucket: source,
      Key: "m.csv",
      Body: keys.map((k) => `${source},${k}\n`).join(""),
    }),
  );
  return { source, target, keys, manifest: { arn: `arn:aws:s3:::${source}/m.csv`, etag: put.ETag ?? "" } };
}

const copyJob = (s: Awaited<ReturnType<typeof copyScenario>>, verify: boolean) =>
  createJobInput(
    s.manifest,
    { S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${s.target}` } },
    {
      ...(verify ? { Tags: [{ Key: "s3batch:verify", Value: "true" }] } : {}),
    },
  );

async function present(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  return s3
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    .then(() => true)
    .catch(() => false);
}

describe("Ceph RGW", () => {
  it("on dbstore acknowledges copies it does not make: verified, every row fails EffectNotApplied", async () => {
    // Prepare
    const s = await copyScenario(dbstore);

    // Act: the same copy, unverified and then verified
    const trusting = await runReportedJob(t.control, dbstore, s.source, copyJob(s, false));
    const verified = await runReportedJob(t.control, dbstore, s.source, copyJob(s, true));

    // Assess: the gateway said yes both times and wrote nothing; only the verified job says so
    for (const key of s.keys) expect(await present(dbstore, s.target, key), key).toBe(false);
    expect(trusting.job.ProgressSummary).toMatchObject({
      NumberOfTasksSucceeded: 10,
      NumberOfTasksFailed: 0,
    });
    expect(verified.job.Status).toBe("Complete");
    expect(verified.job.ProgressSummary).toMatchObject({
      NumberOfTasksSucceeded: 0,
      NumberOfTasksFailed: 10,
    });
    const rows = verified.failed.trim().split("\n");
    expect(rows).toHaveLength(10);
    for (const row of rows)
      expect(row).toMatch(
        /,failed,500,EffectNotApplied,"?endpoint rgw-dbstore: rgw-dbstore answered success, but reading back: the copy on rgw-dbstore is not there/,
      );
  });

  it("on RADOS makes every copy, and the verified job succeeds", async () => {
    const s = await copyScenario(rados);
    const verified = await runReportedJob(t.control, rados, s.source, copyJob(s, true));
    expect(verified.job.ProgressSummary).toMatchObject({
      NumberOfTasksSucceeded: 10,
      NumberOfTasksFailed: 0,
    });
    for (const key of s.keys) expect(await present(rados, s.target, key), key).toBe(true);
  });

  it("has its capabilities probed and shown, and a survey predicts what a gateway lacks", async () => {
    // Act: the tables (the runtime probed at start), then a restore job's survey over a bucket on
    // gateway A (an emulator that restores) and on dbstore (which cannot)
    const env = cliEnv(t.runtime.url);
    let tables: GatewayCapabilities[] = [];
    for (let i = 0; i < 120; i++) {
      const r = await runCli(["--json", "gateways"], env);
      tables = (JSON.parse(r.stdout) as { gateways: GatewayCapabilities[] }).gateways;
      if (tables.every((x) => x.probedAt)) break;
      await new Promise((r2) => setTimeout(r2, 500));
    }
    const human = await runCli(["gateways"], env);
    const bucket = `vsurvey-${randomUUID().slice(0, 8)}`;
    for (const s3 of [t.gatewayA, dbstore]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (let i = 0; i < 4; i++)
      await dbstore.send(new PutObjectCommand({ Bucket: bucket, Key: `d/${i}`, Body: "x" }));
    for (let i = 0; i < 3; i++)
      await t.gatewayA.send(
        new PutObjectCommand({ Bucket: bucket, Key: `a/${i}`, Body: "x", StorageClass: "GLACIER" }),
      );
    const rows = [...[0, 1, 2, 3].map((i) => `d/${i}`), ...[0, 1, 2].map((i) => `a/${i}`)];
    await t.gatewayA.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "m.csv",
        Body: rows.map((k) => `${bucket},${k}\n`).join(""),
      }),
    );
    const dry = await runCli(
      ["--json", "create", "--manifest", `s3://${bucket}/m.csv`, "--restore-days", "1", "--dry-run"],
      env,
    );

    // Assess: the table names dbstore's refusals in its own terms; the survey counts them
    const byId = Object.fromEntries(tables.map((x) => [x.endpointId, x]));
    expect(byId["rgw-rados"]?.capabilities.copy).toEqual({ ok: true });
    expect(byId["rgw-rados"]?.capabilities.conditionalWrites).toEqual({ ok: true });
    expect(byId["rgw-dbstore"]?.capabilities.copy).toMatchObject({ ok: false, code: "EffectNotApplied" });
    expect(byId["rgw-dbstore"]?.capabilities.restore).toMatchObject({ ok: false, http: 501 });
    expect(byId["gateway-a"]?.capabilities.restore).toEqual({ ok: true });
    expect(human.stdout).toMatch(/^copy\s+yes\s+yes\s+no: 200 EffectNotApplied/m);
    expect(human.stdout).toMatch(/^probed\s+\d{4}-\d\d-\d\d /m);
    expect(dry.code, dry.stderr).toBe(0);
    const { survey } = JSON.parse(dry.stdout) as { survey: Survey };
    expect(survey.wouldFail).toEqual({ [byId["rgw-dbstore"]?.capabilities.restore?.code ?? "?"]: 4 });
  });
});
