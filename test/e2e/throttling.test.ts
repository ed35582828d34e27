// A gateway that throttles, as S3 does above a request rate per prefix: a real HTTP proxy in front
// of gateway B answers 503 SlowDown to every request beyond its rate. s3batch starts low, climbs,
// meets the throttling, cuts its in-flight limit and settles under what the gateway takes; no task
// fails for it, and every object gets its tags. (How close the rate comes to the proxy's is
// measured by `npm run bench:tasks`, not here.)
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, GetObjectTaggingCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TEST_CREDENTIALS } from "../helpers/clients.ts";
import { startFaultProxy } from "../helpers/fault-proxy.ts";
import { createJobInput, runReportedJob } from "../helpers/jobs.ts";
import { startTestRuntime } from "../helpers/runtime.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const ROWS = 1200;
const CEILING = 64;

describe("a gateway that throttles above a request rate", () => {
  it("gets an in-flight limit that settles under what it takes, and no failed task", async () => {
    // Prepare: 1,200 objects on B; B behind a proxy letting 60 requests a second through
    const emulators = inject("emulators");
    const proxy = await startFaultProxy(emulators.gatewayB);
    proxy.rateLimit = 60;
    const t = await startTestRuntime({
      S3BATCH_ENDPOINTS: JSON.stringify([
        { id: "gateway-a", url: emulators.gatewayA, credentials: TEST_CREDENTIALS },
        { id: "gateway-b", url: proxy.url, credentials: TEST_CREDENTIALS, maxConcurrency: CEILING },
      ]),
    });
    cleanups.push(
      () => t.stop(),
      () => proxy.close(),
    );
    const id = randomUUID().slice(0, 8);
    const [bucket, reports] = [`thr-${id}`, `thr-reports-${id}`];
    await t.gatewayB.send(new CreateBucketCommand({ Bucket: bucket }));
    await t.gatewayA.send(new CreateBucketCommand({ Bucket: reports }));
    const keys = Array.from({ length: ROWS }, (_, i) => `obj/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((Key) => t.gatewayB.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "x" }))),
      );
    const manifest = await t.gatewayB.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "manifest.csv",
        Body: keys.map((k) => `${bucket},${k}`).join("\n"),
      }),
    );

    // Act
    const TagSet = [{ Key: "throttled", Value: "ridden-out" }];
    const { job, succeeded, failed } = await runReportedJob(
      t.control,
      t.gatewayA,
      reports,
      createJobInput(
        { arn: `arn:aws:s3:::${bucket}/manifest.csv`, etag: manifest.ETag ?? "" },
        { S3PutObjectTagging: { TagSet } },
      ),
      { timeoutMs: 180_000 },
    );

    // Assess: the gateway did throttle; s3batch cut its limit and stayed under its ceiling; nothing failed
    const adaptive = t.runtime.ctx.gateways.get("gateway-b").adaptive;
    expect(proxy.stats.slowDowns).toBeGreaterThan(0);
    expect(adaptive.seen.cuts).toBeGreaterThan(0);
    expect(adaptive.limit).toBeLessThan(CEILING);
    expect(adaptive.limit).toBeGreaterThanOrEqual(adaptive.o.floor);
    expect(job.Status).toBe("Complete");
    expect(failed).toBe("");
    expect(succeeded.trim().split("\n")).toHaveLength(ROWS);
    for (const Key of keys.filter((_, i) => i % 97 === 0)) {
      const tags = await t.gatewayB.send(new GetObjectTaggingCommand({ Bucket: bucket, Key }));
      expect(tags.TagSet, Key).toEqual(TagSet);
    }
  }, 240_000);
});
