// s3batch refuses a control store that ignores conditional writes. A real proxy in front of the
// control endpoint forwards every request without If-Match and If-None-Match, as RGW's dbstore
// backend and Garage behave: the local runtime will not start on it, and the `npm start` process
// exits 1 saying which store and what it ignored. Through the same proxy with the headers kept,
// the runtime starts: it is the store's answer that is judged, not the proxy. And on Ceph RGW,
// which takes a PutObject's If-Match only without the ETag's quotes, the probe finds that form
// and a job's record moves through every status on it.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../helpers/cli.ts";
import { deploymentEnv } from "../helpers/deployment.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { freePort } from "../helpers/kill-harness.ts";
import { startTestRuntime } from "../helpers/runtime.ts";

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(inject("emulators").control);
});
afterAll(async () => {
  await proxy?.close();
});

const REFUSAL =
  /control store at http:\/\/127\.0\.0\.1:\d+ \(bucket [\w-]+\) accepted a second If-None-Match: \* PutObject/;

describe("the control store's conditional writes", () => {
  it("are proven before the runtime starts: a store that ignores them is refused, by name", async () => {
    proxy.stripConditionalHeaders = true;
    await expect(startTestRuntime({ AWS_ENDPOINT_URL: proxy.url })).rejects.toThrow(REFUSAL);

    proxy.stripConditionalHeaders = false;
    const t = await startTestRuntime({ AWS_ENDPOINT_URL: proxy.url });
    await t.stop();
  });

  it("stop `npm start` with exit 1 and the reason", async () => {
    proxy.stripConditionalHeaders = true;
    const env = {
      ...process.env,
      ...(await deploymentEnv(inject("emulators"), await freePort(), {}, "store")),
      AWS_ENDPOINT_URL: proxy.url,
    };
    const out = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ["--import", "tsx", "runtime/local/main.ts"], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      p.stderr.on("data", (d) => {
        stderr += d;
      });
      p.on("error", reject);
      p.on("close", (code) => resolve({ code: code ?? -1, stderr }));
    });
    proxy.stripConditionalHeaders = false;
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/s3batch failed to start: /);
    expect(out.stderr).toMatch(REFUSAL);
  });

  it("on Ceph RGW, which matches If-Match only without quotes, are proven in its form and a job runs", async () => {
    const rgw = inject("emulators").rgw;
    if (!rgw) throw new Error("Ceph RGW is not running here (see the setup's banner)");
    // The internal bucket on RGW; the queues stay on the emulator.
    const t = await startTestRuntime({
      AWS_ENDPOINT_URL_S3: rgw,
      AWS_ENDPOINT_URL_SQS: inject("emulators").control,
    });
    try {
      const bucket = `rgwstore-${randomUUID().slice(0, 8)}`;
      await t.gatewayA.send(new CreateBucketCommand({ Bucket: bucket }));
      for (const key of ["a", "b"])
        await t.gatewayA.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const manifest = await t.gatewayA.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: "m.csv",
          Body: `${bucket},a\n${bucket},b\n${bucket},gone\n`,
        }),
      );
      const { job, succeeded, failed } = await runReportedJob(
        t.control,
        t.gatewayA,
        bucket,
        createJobInput(
          { arn: `arn:aws:s3:::${bucket}/m.csv`, etag: manifest.ETag ?? "" },
          { S3PutObjectTagging: { TagSet: [{ Key: "store", Value: "rgw" }] } },
        ),
      );
      expect(job.Status).toBe("Complete");
      expect(job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: 2, NumberOfTasksFailed: 1 });
      expect(succeeded.trim().split("\n")).toHaveLength(2);
      expect(failed).toMatch(/,gone,,failed,404,NoSuchKey,/);
    } finally {
      await t.stop();
    }
  });
});
