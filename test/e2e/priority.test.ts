// Priority has an observable effect: with the workers saturated, a higher-priority job's
// children start before the remaining children of a lower-priority job submitted earlier.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildState } from "../../lib/children/state.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { createJob, createJobInput, describeJob, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
beforeAll(async () => {
  // One worker, one row per child: every child is a separate unit of work competing for it.
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "1", S3BATCH_CHECKPOINT_ROWS: "1" }, { childWorkers: 1 });
});
afterAll(async () => {
  await t?.stop();
});

async function childStarts(jobId: string): Promise<number[]> {
  const ref = { accountId: ACCOUNT_ID, jobId };
  const starts: number[] = [];
  for await (const key of t.runtime.ctx.store.list(paths.children(ref))) {
    // Both gateways hold "pool", so every shard has a child on each; gateway A's do the work.
    if (!/\/gateway-a\/\d{8}\.json$/.test(key)) continue;
    const state = (await t.runtime.ctx.store.get<ChildState>(key))?.value;
    if (state) starts.push(Date.parse(state.startedAt));
  }
  return starts.sort((a, b) => a - b);
}

describe("priority", () => {
  it("runs a later, higher-priority job's children before an earlier, lower-priority job's remaining ones", async () => {
    // Prepare: 30 objects for the low job, 5 for the high one, all on gateway A
    const low = Array.from({ length: 30 }, (_, i) => `low-${i}`);
    const high = Array.from({ length: 5 }, (_, i) => `high-${i}`);
    const manifest = await seedScenario(t.gatewayA, t.gatewayB, {
      manifestBody: low.map((k) => `pool,${k}`).join("\n"),
      storageClass: "STANDARD",
    });
    for (const Key of [...low, ...high])
      await t.gatewayA.send(new PutObjectCommand({ Bucket: "pool", Key, Body: Key }));
    const highManifest = await t.gatewayA.send(
      new PutObjectCommand({
        Bucket: "pool",
        Key: "high.csv",
        Body: high.map((k) => `pool,${k}`).join("\n"),
      }),
    );
    const op = { S3PutObjectTagging: { TagSet: [{ Key: "p", Value: "x" }] } };

    // Act: the low job starts and saturates the single worker; then the high job arrives
    const lowJob = await createJob(t.control, createJobInput(manifest, op, { Priority: 1 }));
    const deadline = Date.now() + 30_000;
    while ((await describeJob(t.control, lowJob)).ProgressSummary?.NumberOfTasksSucceeded === 0) {
      if (Date.now() > deadline) throw new Error("the low-priority job did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    const highJob = await createJob(
      t.control,
      createJobInput({ arn: "arn:aws:s3:::pool/high.csv", etag: highManifest.ETag ?? "" }, op, {
        Priority: 100,
      }),
    );
    const [lowDone, highDone] = await Promise.all([
      waitForJob(t.control, lowJob),
      waitForJob(t.control, highJob),
    ]);

    // Assess
    expect(lowDone.Status).toBe("Complete");
    expect(highDone.Status).toBe("Complete");
    const lowStarts = await childStarts(lowJob);
    const highStarts = await childStarts(highJob);
    expect(lowStarts).toHaveLength(30);
    expect(highStarts).toHaveLength(5);
    const firstHigh = highStarts[0] ?? 0;
    const lastHigh = highStarts.at(-1) ?? 0;
    // The low job still had work when the high one arrived ...
    expect(lowStarts.filter((s) => s > lastHigh).length).toBeGreaterThan(0);
    // ... and none of it started while the high job had children waiting.
    expect(lowStarts.filter((s) => s > firstHigh && s < lastHigh)).toEqual([]);
    expect(highDone.TerminationDate?.getTime()).toBeLessThan(lowDone.TerminationDate?.getTime() ?? 0);
  });
});
