// The local runtime keeps Lambda's SQS semantics and the error taxonomy: a message no handler
// knows is recorded and acknowledged (never retried into the DLQ), its batch neighbour runs; a
// message that keeps failing reaches its DLQ after maxReceiveCount receives, where the poll
// function (the DLQs' consumer) picks it up and records it on the job.
import { GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paths } from "../../lib/jobs/paths.ts";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
let failDispatch = false;
beforeAll(async () => {
  t = await startTestRuntime(
    { S3BATCH_MAX_ATTEMPTS: "2" },
    {
      maxReceiveCount: 2,
      // A dispatch that always throws for one job: a fault in a real handler, not a stub of recovery.
      wrap: (queue, handler) =>
        queue !== "dispatch"
          ? handler
          : async (event, invocation) => {
              if (failDispatch) throw new Error("injected: dispatch crashed");
              return handler(event, invocation);
            },
    },
  );
});
afterAll(async () => {
  await t?.stop();
});

async function queueDepth(url: string): Promise<number> {
  const out = await t.runtime.ctx.queue.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return Object.values(out.Attributes ?? {}).reduce((n, v) => n + Number(v), 0);
}

describe("local runtime SQS semantics", () => {
  it("records and drops a message of an unknown schema at once, and runs its batch neighbour", async () => {
    // Prepare
    const { store, queue, settings } = t.runtime.ctx;
    const poison = JSON.stringify({ v: 9, type: "poll", accountId: ACCOUNT_ID, jobId: "no-such-job" });
    const fine = JSON.stringify({
      v: 1,
      type: "poll",
      accountId: ACCOUNT_ID,
      jobId: "no-such-job",
      chain: false,
    });

    // Act
    await queue.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: settings.queues.poll,
        Entries: [
          { Id: "poison", MessageBody: poison },
          { Id: "fine", MessageBody: fine },
        ],
      }),
    );
    const deadline = Date.now() + 30_000;
    const recorded: string[] = [];
    while (recorded.length === 0 && Date.now() < deadline) {
      for await (const key of store.list("dead-letters/")) recorded.push(key);
      if (recorded.length === 0) await new Promise((r) => setTimeout(r, 250));
    }

    // Assess: kept for the operator, gone from the queue, never in the DLQ
    expect(recorded).toHaveLength(1);
    const kept = await store.get<{ body: string; why: string }>(recorded[0] ?? "");
    expect(kept?.value.body).toBe(poison);
    while ((await queueDepth(settings.queues.poll)) > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    expect(await queueDepth(settings.queues.poll)).toBe(0);
    expect(await queueDepth(`${settings.queues.poll}-dlq`)).toBe(0);
  });

  it("ends a job whose dispatch keeps failing: its message dies twice, and the job fails with the reason", async () => {
    // Prepare
    const manifest = await seedScenario(t.gatewayA, t.gatewayB);
    const input = createJobInput(manifest, { S3PutObjectTagging: { TagSet: [{ Key: "k", Value: "v" }] } });
    failDispatch = true;

    // Act
    const jobId = await createJob(t.control, input);
    const job = await waitForJob(t.control, jobId, undefined, 90_000);

    // Assess
    expect(job.Status).toBe("Failed");
    expect(job.FailureReasons).toContainEqual({
      FailureCode: "PreparationFailed",
      FailureReason: "the dispatch message reached the dead-letter queue 2 times",
    });
    const events: string[] = [];
    for await (const key of t.runtime.ctx.store.list(paths.events({ accountId: ACCOUNT_ID, jobId })))
      events.push(((await t.runtime.ctx.store.get<{ type: string }>(key))?.value.type ?? "") as string);
    expect(events.filter((e) => e === "dead-letter")).toHaveLength(2);
  });
});
