// The same API code under Deno: a job created through the Deno server is run by the Node
// runtime's queue loops (shared queues and store) and read back through Deno.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { s3ControlClient } from "../helpers/clients.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { expectSeedOutcome, seedScenario } from "../helpers/seed.ts";

const root = join(import.meta.dirname, "../..");
let t: TestRuntime;
let deno: ChildProcess | undefined;
let denoUrl = "";

beforeAll(async () => {
  t = await startTestRuntime();
  const { settings } = t.runtime.ctx;
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: settings.control.endpoint,
    AWS_REGION: settings.control.region,
    S3BATCH_ENDPOINTS: JSON.stringify(
      settings.endpoints.map((e) => ({ id: e.id, url: e.url, credentials: e.credentials })),
    ),
    S3BATCH_API_KEYS: JSON.stringify(settings.apiKeys),
    S3BATCH_INTERNAL_BUCKET: settings.internalBucket,
    S3BATCH_QUEUE_URL_DISPATCH: settings.queues.dispatch,
    S3BATCH_QUEUE_URL_CHILD: settings.queues.child,
    S3BATCH_QUEUE_URL_POLL: settings.queues.poll,
    S3BATCH_QUEUE_URL_MERGE: settings.queues.merge,
    S3BATCH_PORT: "0",
    NO_COLOR: "1",
  };
  deno = spawn(
    "npx",
    ["deno", "run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "runtime/deno/main.ts"],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  denoUrl = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`Deno did not start:\n${seen}`)), 120_000);
    const onData = (c: Buffer) => {
      seen += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    deno?.stdout?.on("data", onData);
    deno?.stderr?.on("data", onData);
    deno?.on("exit", (code) => reject(new Error(`Deno exited with ${code}:\n${seen}`)));
  });
}, 180_000);

afterAll(async () => {
  if (deno?.pid) process.kill(-deno.pid, "SIGTERM"); // npx and the deno it started
  await t?.stop();
});

describe("Deno", () => {
  it("serves the S3 Control API with the same code", async () => {
    const viaDeno = s3ControlClient(denoUrl);
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);

    const jobId = await createJob(
      viaDeno,
      createJobInput(manifest, { S3PutObjectTagging: { TagSet: [{ Key: "runtime", Value: "deno" }] } }),
    );
    const job = await waitForJob(viaDeno, jobId);

    expectSeedOutcome(job);
    viaDeno.destroy();
  });
});
