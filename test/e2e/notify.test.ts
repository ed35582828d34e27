// Job state notifications on real sockets: a local webhook receiver gets every status change in
// order, each signature verifies, an event is redelivered after the receiver answers 500 twice; an
// SQS queue gets the same events; a receiver that is down for the whole job does not hold the job
// up, the failed tries are in the event log, and the events arrive once it is back.
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { paths } from "../../lib/jobs/paths.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { ACCOUNT_ID, TEST_CREDENTIALS } from "../helpers/clients.ts";
import { describeJob, waitForJob } from "../helpers/jobs.ts";
import { mixedScenario } from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const SECRET = "whsec-notify-test-9f3a";
let t: TestRuntime;
let env: NodeJS.ProcessEnv;
let manifest = "";
let queueUrl = "";

beforeAll(async () => {
  // The receivers listen on loopback, which this deployment's operator allows; the queue is one
  // the operator configured (no other is ever sent to).
  const sqs = new SQSClient({
    region: "us-east-1",
    endpoint: inject("emulators").control,
    credentials: TEST_CREDENTIALS,
  });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `notify-${Date.now()}` }))).QueueUrl ?? "";
  sqs.destroy();
  t = await startTestRuntime({
    S3BATCH_NOTIFY_SECRET: SECRET,
    S3BATCH_NOTIFY_MAX_DELAY_SECONDS: "2",
    S3BATCH_NOTIFY_ALLOW_NETWORKS: "127.0.0.0/8",
    S3BATCH_NOTIFY_QUEUES: queueUrl,
  });
  env = cliEnv(t.runtime.url);
  const s = await mixedScenario(t.gatewayA, t.gatewayB, "ntfpool", 20);
  manifest = s.manifest.arn.replace("arn:aws:s3:::", "s3://");
});
afterAll(async () => {
  await t?.stop();
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A webhook receiver on a real port; it answers 500 to its first `failFirst` requests. */
async function receiver(failFirst = 0, port = 0): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const answered = got.length < failFirst ? 500 : 200;
      got.push({ headers: req.headers, body, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/s3batch`, got, server };
}

const delivered = (got: Received[]) =>
  got
    .filter((r) => r.answered === 200)
    .map((r) => JSON.parse(r.body) as { id: string; detail: { status: string } });

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function eventLog(jobId: string): Promise<Record<string, unknown>[]> {
  const ref = { accountId: ACCOUNT_ID, jobId };
  const out: Record<string, unknown>[] = [];
  for await (const key of t.runtime.ctx.store.list(paths.events(ref))) {
    const e = await t.runtime.ctx.store.get<Record<string, unknown>>(key);
    if (e) out.push(e.value);
  }
  return out;
}

async function create(args: string[]): Promise<string> {
  const r = await runCli(["create", "--manifest", manifest, "--untag", ...args], env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe("job state notifications", () => {
  it("posts every status change to a webhook, signed, in order, redelivering after two 500s", async () => {
    // Prepare
    const hook = await receiver(2);

    // Act
    const jobId = await create(["--confirm", "--notify", hook.url]);
    await until("Suspended event", () => delivered(hook.got).length === 1);
    expect((await runCli(["confirm", jobId], env)).code).toBe(0);
    const job = await waitForJob(t.control, jobId);
    await until("Complete event", () => delivered(hook.got).some((e) => e.detail.status === "Complete"));
    hook.server.close();

    // Assess: the statuses, once each, in order
    const events = delivered(hook.got);
    expect(events.map((e) => e.detail.status)).toEqual(["Suspended", "Active", "Complete"]);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    // the first event answered 500 twice, then delivered: the same event, the same key
    expect(hook.got.slice(0, 3).map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(new Set(hook.got.slice(0, 3).map((r) => r.headers["x-s3batch-event-id"]))).toEqual(
      new Set([events[0]?.id]),
    );
    // every body's signature verifies under the secret
    for (const r of hook.got) {
      const ts = String(r.headers["x-s3batch-timestamp"]);
      const mac = createHmac("sha256", SECRET).update(`${ts}.${r.body}`).digest("hex");
      expect(r.headers["x-s3batch-signature"]).toBe(`v1=${mac}`);
      expect(r.headers["content-type"]).toBe("application/json");
    }
    // the last event carries the job's outcome
    const last = JSON.parse(hook.got.at(-1)?.body ?? "{}");
    expect(last).toMatchObject({
      "detail-type": "S3 Batch Operations Job State Change",
      source: "s3batch",
      account: ACCOUNT_ID,
      detail: {
        jobId,
        status: "Complete",
        previousStatus: "Completing",
        progressSummary: {
          TotalNumberOfTasks: job.ProgressSummary?.TotalNumberOfTasks,
          NumberOfTasksSucceeded: job.ProgressSummary?.NumberOfTasksSucceeded,
          NumberOfTasksFailed: job.ProgressSummary?.NumberOfTasksFailed,
        },
      },
    });
    // the two failed tries are in the event log; the secret is nowhere
    const log = await eventLog(jobId);
    const undelivered = log.filter((e) => e.type === "notification-undelivered");
    expect(undelivered.map((e) => [e.tries, e.message])).toEqual([
      [1, "HTTP 500"],
      [2, "HTTP 500"],
    ]);
    const record = await t.runtime.ctx.store.get(paths.job({ accountId: ACCOUNT_ID, jobId }));
    for (const text of [
      JSON.stringify(record),
      JSON.stringify(log),
      ...hook.got.map((r) => JSON.stringify(r)),
    ])
      expect(text).not.toContain(SECRET);
  });

  it("sends the same events to an SQS queue", async () => {
    const sqs = new SQSClient({ region: "us-east-1", endpoint: inject("emulators").control });
    const QueueUrl = queueUrl;
    const jobId = await create(["--notify", QueueUrl]);
    await waitForJob(t.control, jobId);
    const statuses: string[] = [];
    await until("Complete message", async () => {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of out.Messages ?? []) {
        const e = JSON.parse(m.Body ?? "{}") as { detail: { jobId: string; status: string } };
        expect(e.detail.jobId).toBe(jobId);
        statuses.push(e.detail.status);
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
      return statuses.includes("Complete");
    });
    sqs.destroy();
    expect(statuses).toEqual(["Active", "Complete"]);
  });

  it("does not hold a job up while the receiver is down, and delivers once it is back", async () => {
    // Prepare: a port with nothing listening
    const probe = await receiver();
    const port = (probe.server.address() as AddressInfo).port;
    await new Promise((r) => probe.server.close(r));
    const url = probe.url;

    // Act: the whole job runs with the receiver down
    const jobId = await create(["--notify", url]);
    const job = await waitForJob(t.control, jobId);
    const triedMeanwhile = (await eventLog(jobId)).filter((e) => e.type === "notification-undelivered");
    const hook = await receiver(0, port);
    await until("Complete event", () => delivered(hook.got).some((e) => e.detail.status === "Complete"));
    hook.server.close();

    // Assess
    expect(job.Status).toBe("Complete");
    expect(triedMeanwhile.length).toBeGreaterThan(0);
    // the event log names scheme, host and port: never the path, where hooks keep their secret
    expect(triedMeanwhile[0]).toMatchObject({ status: "Active", target: `http://127.0.0.1:${port}` });
    expect(JSON.stringify(await eventLog(jobId))).not.toContain("/hooks/s3batch");
    expect(delivered(hook.got).map((e) => e.detail.status)).toEqual(["Active", "Complete"]);
    expect((await describeJob(t.control, jobId)).Status).toBe("Complete");
  });

  it("refuses a target that is not an http(s) URL", async () => {
    const r = await runCli(
      ["create", "--manifest", manifest, "--untag", "--notify", "file:///etc/passwd"],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/InvalidRequest.*s3batch:notify must be an http or https URL/);
  });
});
