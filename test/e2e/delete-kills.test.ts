// A delete job whose runtime is SIGKILLed mid-run, again and again. Checkpoints are rare (every
// 1,000 rows or 60 s), so every kill loses deletes that were made but not yet checkpointed; the
// attempt that takes over finds those objects gone. The intent journal says it deleted them, so
// every row is reported succeeded: none is reported NoSuchKey for an object this job deleted.
import { randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { UpdateJobStatusCommand } from "@aws-sdk/client-s3-control";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { Context } from "../../lib/context.ts";
import { createContext } from "../../lib/create-context.ts";
import { TERMINAL_STATUSES } from "../../lib/jobs/model.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import { loadSettings } from "../../lib/settings.ts";
import { readText } from "../helpers/buckets.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient } from "../helpers/clients.ts";
import { deploymentEnv } from "../helpers/deployment.ts";
import { createJobInput, createReportedJob, describeJob, waitForJob } from "../helpers/jobs.ts";
import { freePort, killRepeatedly, RuntimeProcess } from "../helpers/kill-harness.ts";
import { EVERY_OBJECT_EXISTS, EVERY_OBJECT_EXISTS_THREE, mixedScenario } from "../helpers/mixed-scenario.ts";

const ROWS = 3000;
const KILLS = 3;

let proc: RuntimeProcess | undefined;
let ctx: Context | undefined;
afterAll(async () => {
  await proc?.stop();
  ctx?.gateways.destroy();
});

describe("a delete job killed mid-run", () => {
  it(`${KILLS} times reports every deleted object succeeded`, async () => {
    // Prepare: every object exists, on A, on B or on both; rare checkpoints
    const emulators = inject("emulators");
    const port = await freePort();
    const env = await deploymentEnv(emulators, port, {
      S3BATCH_CHECKPOINT_ROWS: "1000",
      S3BATCH_CHECKPOINT_SECONDS: "60",
      S3BATCH_SHARD_ROWS: "1500",
    });
    ctx = createContext(loadSettings(env), "observer");
    const a = gatewayClient(emulators.gatewayA);
    const b = gatewayClient(emulators.gatewayB);
    const r = emulators.rgw ? gatewayClient(emulators.rgw) : undefined;
    const bucket = `delkill-${randomUUID().slice(0, 8)}`;
    const s = await mixedScenario(a, b, bucket, ROWS, r ? EVERY_OBJECT_EXISTS_THREE : EVERY_OBJECT_EXISTS, r);
    proc = new RuntimeProcess(env);
    await proc.start();
    const control = s3ControlClient(`http://127.0.0.1:${port}`);
    const input = createJobInput(s.manifest, { S3DeleteObjectTagging: {} }, { ConfirmationRequired: true });
    // S3DeleteObject is s3batch's own: the SDK cannot name it, so it goes in on the wire.
    const created = await createReportedJob(control, bucket, input, "AllTasks", (command) =>
      command.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { body?: unknown };
          if (typeof req.body === "string")
            req.body = req.body.replace(/<S3DeleteObjectTagging\s*\/>/, "<S3DeleteObject></S3DeleteObject>");
          return next(args);
        },
        { step: "build", priority: "high", name: "deleteOnTheWire" },
      ),
    );
    await waitForJob(control, created.jobId, new Set(["Suspended"]));

    // Act: confirm, then kill the runtime while it deletes
    await control.send(
      new UpdateJobStatusCommand({
        AccountId: ACCOUNT_ID,
        JobId: created.jobId,
        RequestedJobStatus: "Ready",
      }),
    );
    const ref = { accountId: ACCOUNT_ID, jobId: created.jobId };
    const ended = async () => {
      const job = ctx ? await jobGet(ctx.store, ref) : undefined;
      return job !== undefined && TERMINAL_STATUSES.includes(job.value.status);
    };
    const kills = await killRepeatedly(proc, KILLS, ended, () => 0.1);
    const deadline = Date.now() + 240_000;
    while (!(await ended())) {
      if (Date.now() > deadline) throw new Error("the job did not end");
      await new Promise((r) => setTimeout(r, 500));
    }
    const job = await describeJob(control, created.jobId);

    // Assess: every row succeeded, and every object is gone from every gateway
    expect(kills.length).toBeGreaterThanOrEqual(2);
    expect(job.Status).toBe("Complete");
    expect(job.ProgressSummary).toMatchObject({ NumberOfTasksSucceeded: ROWS, NumberOfTasksFailed: 0 });
    expect(await readText(a, bucket, created.keys.results("succeeded"))).toBe(s.expected.succeeded);
    for (const gw of r ? [a, b, r] : [a, b]) {
      const left = await gw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "k/" }));
      expect(left.KeyCount ?? 0).toBe(0);
      expect((await gw.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    }
    for (const c of [a, b, control, ...(r ? [r] : [])]) c.destroy();
  }, 420_000);
});
