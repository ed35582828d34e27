// The step machinery verb by verb, on the in-memory store and queue (test/fakes): what the
// reconciler, the dead-letter consumer, the lease and the poll chain do to a job's documents and
// which messages they send. Time is the store's clock, moved on by the test; nothing sleeps.
import { describe, expect, it } from "vitest";
import { type ChildState, initialChildState } from "../../lib/children/state.ts";
import type { DispatchState } from "../../lib/dispatch/dispatch.ts";
import type { Plan } from "../../lib/dispatch/plan.ts";
import { ContentionError } from "../../lib/errors.ts";
import { type JobRecord, type JobStatus, newJobRecord } from "../../lib/jobs/model.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import { leaseAcquire } from "../../lib/leases/lease.ts";
import type { MergeState } from "../../lib/merge/merge-state.ts";
import { NOTIFY_TAG, notifyStep } from "../../lib/notify/notify.ts";
import { deadLetter } from "../../lib/reconcile/dead-letter.ts";
import { chainStep } from "../../lib/reconcile/poll-chain.ts";
import { pollJob } from "../../lib/reconcile/reconcile.ts";
import type { ChildMessage, PipelineMessage } from "../../lib/steps/messages.ts";
import { comeBackAfterSeconds } from "../../lib/steps/step.ts";
import { type FakeContext, fakeContext } from "../fakes/context.ts";
import { MemoryStore } from "../fakes/memory-store.ts";

const LEASE_MS = 10_000; // fakeContext's S3BATCH_LEASE_SECONDS
const MAX_ATTEMPTS = 3; // fakeContext's S3BATCH_MAX_ATTEMPTS
const ref = { accountId: "123456789012", jobId: "job-steps-1" };
const span = { firstRow: 0, rowCount: 10, startByte: 0, endByte: 100 };
const poll = { v: 1, type: "poll", ...ref, chain: false } as const;
const childMsg: ChildMessage = {
  v: 1,
  type: "child",
  ...ref,
  shard: 0,
  endpointId: "gateway-a",
  priority: 10,
  span,
};
const childKey = paths.childState(ref, "gateway-a", 0);

async function givenJob(ctx: FakeContext, status: JobStatus, extra: Partial<JobRecord> = {}): Promise<void> {
  const record = newJobRecord(
    ref,
    {
      Operation: { S3PutObjectTagging: { TagSet: [] } },
      Report: { Enabled: false },
      Priority: 10,
      RoleArn: "arn:aws:iam::123456789012:role/r",
      Manifest: { Spec: { Format: "S3BatchOperations_CSV_20180820", Fields: ["Bucket", "Key"] } },
    } as unknown as JobRecord["request"],
    new Date().toISOString(),
  );
  await ctx.store.create(paths.job(ref), {
    ...record,
    status,
    history: [...record.history, { status, at: new Date().toISOString() }],
    ...extra,
  });
}

async function givenPlan(ctx: FakeContext): Promise<void> {
  const plan = { schema: 2, totalRows: 10, shardCount: 1, childCount: 1, routing: {}, reportEndpoints: [] };
  await ctx.store.create(paths.plan(ref), plan as unknown as Plan);
  await ctx.store.create<DispatchState>(paths.dispatchState(ref), {
    attempts: 1,
    stalled: 0,
    planned: true,
    started: true,
  });
}

/** A child state whose holder (`dead0001`) took it `stalled` times and then stopped renewing. */
async function givenHeldChild(ctx: FakeContext, stalled: number, nextRow = 4): Promise<void> {
  const s = initialChildState({ ...ref, endpointId: "gateway-a", shard: 0 }, span);
  await ctx.store.create<ChildState>(childKey, {
    ...s,
    nextRow,
    succeeded: nextRow,
    attempts: stalled,
    stalled,
    lease: { attempt: "dead0001", renewedAt: new Date().toISOString() },
  });
}

const job = async (ctx: FakeContext) => (await jobGet(ctx.store, ref))?.value;
const child = async (ctx: FakeContext) => (await ctx.store.get<ChildState>(childKey))?.value;
const sent = (ctx: FakeContext, type: PipelineMessage["type"]) => ctx.queue.waiting(type);
const events = async (ctx: FakeContext) => {
  const out: string[] = [];
  for await (const key of ctx.store.list(paths.events(ref)))
    out.push((await ctx.store.get<{ type: string }>(key))?.value.type ?? "");
  return out;
};

describe("a child nobody runs", () => {
  it("is left alone while its lease is live, then re-driven once per lease period however many polls look", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Active");
    await givenPlan(ctx);
    await givenHeldChild(ctx, 1);

    ctx.store.advance(LEASE_MS / 2);
    await pollJob(ctx, poll);
    expect(sent(ctx, "child")).toHaveLength(0);

    ctx.store.advance(LEASE_MS);
    await pollJob(ctx, poll);
    await pollJob(ctx, poll);
    await pollJob(ctx, poll);
    expect(sent(ctx, "child")).toEqual([childMsg]);
    expect((await child(ctx))?.lease).toBeUndefined();
    expect((await child(ctx))?.redrivenAt).toBeDefined();

    // Its re-driven delivery died too: one more message after one more period, not before.
    ctx.store.advance(LEASE_MS / 2);
    await pollJob(ctx, poll);
    expect(sent(ctx, "child")).toHaveLength(1);
    ctx.store.advance(LEASE_MS);
    await pollJob(ctx, poll);
    expect(sent(ctx, "child")).toHaveLength(2);
  });

  it("is given up after maxAttempts takes without progress: its rows fail, the job says so once per endpoint", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Active");
    await givenPlan(ctx);
    await givenHeldChild(ctx, MAX_ATTEMPTS, 4);
    ctx.store.advance(LEASE_MS + 1);

    await pollJob(ctx, poll);

    const s = await child(ctx);
    expect(s).toMatchObject({ status: "exhausted", succeeded: 4, failed: 6 });
    expect(s?.exhausted?.message).toBe(
      `not completed after ${MAX_ATTEMPTS} attempts without progress (shard 0)`,
    );
    expect(ctx.store.keys(paths.progress(ref))).toEqual([s?.marker]);
    expect(sent(ctx, "child")).toHaveLength(0);
    const j = await job(ctx);
    expect(j?.exhaustedShards).toEqual({ "gateway-a": 1 });
    expect(j?.failureReasons).toEqual([
      {
        FailureCode: "AttemptsExhausted",
        FailureReason: `endpoint gateway-a: 1 shard not completed; last: ${s?.exhausted?.message}`,
      },
    ]);
    expect(await events(ctx)).toContain("child-exhausted");
    expect(sent(ctx, "poll").some((m) => m.type === "poll" && !m.chain)).toBe(true);
  });
});

describe("a dead letter", () => {
  it("is counted on the child's state and sent again, and the maxAttempts-th gives the child up", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Active");
    // The message died before any delivery took the child: the count creates its state.
    await deadLetter(ctx, childMsg, 5);
    expect((await child(ctx))?.deadLetters).toBe(1);
    expect(sent(ctx, "child")).toEqual([childMsg]);

    await deadLetter(ctx, childMsg, 5);
    expect((await child(ctx))?.deadLetters).toBe(2);
    expect(sent(ctx, "child")).toHaveLength(2);

    await deadLetter(ctx, childMsg, 5);
    const s = await child(ctx);
    expect(s).toMatchObject({ status: "exhausted", deadLetters: 3, failed: 10 });
    expect(s?.exhausted?.message).toBe(
      "the message of shard 0 reached the dead-letter queue 3 times (5 receives the last time)",
    );
    expect(sent(ctx, "child")).toHaveLength(2);
    expect((await events(ctx)).filter((e) => e === "dead-letter")).toHaveLength(3);
  });

  it("of a child a live delivery holds is a spare copy: nothing is counted or sent", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Active");
    await givenHeldChild(ctx, 1);
    await deadLetter(ctx, childMsg, 5);
    expect((await child(ctx))?.deadLetters).toBeUndefined();
    expect(sent(ctx, "child")).toHaveLength(0);
  });

  it("of a dispatch fails the job PreparationFailed the maxAttempts-th time", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Preparing");
    const msg = { v: 1, type: "dispatch", ...ref } as const;
    for (let i = 1; i < MAX_ATTEMPTS; i++) await deadLetter(ctx, msg, 5);
    expect(sent(ctx, "dispatch")).toHaveLength(MAX_ATTEMPTS - 1);
    expect((await job(ctx))?.status).toBe("Preparing");
    await deadLetter(ctx, msg, 5);
    const j = await job(ctx);
    expect(j?.status).toBe("Failed");
    expect(j?.failureReasons).toEqual([
      {
        FailureCode: "PreparationFailed",
        FailureReason: "the dispatch message reached the dead-letter queue 3 times",
      },
    ]);
  });

  it("of a job that ended is dropped", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Complete");
    await deadLetter(ctx, childMsg, 5);
    expect(ctx.store.keys(paths.children(ref))).toEqual([]);
    expect(ctx.queue.waiting()).toEqual([]);
  });
});

describe("dispatch", () => {
  it("is re-driven after two lease periods without a holder, and given up after maxAttempts takes", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Preparing");
    await ctx.store.create<DispatchState>(paths.dispatchState(ref), {
      attempts: 1,
      stalled: 1,
      lease: { attempt: "dead0002", renewedAt: new Date().toISOString() },
    });
    ctx.store.advance(LEASE_MS + 1);
    await pollJob(ctx, poll);
    expect(sent(ctx, "dispatch")).toHaveLength(0);

    ctx.store.advance(LEASE_MS);
    await pollJob(ctx, poll);
    expect(sent(ctx, "dispatch")).toEqual([{ v: 1, type: "dispatch", ...ref }]);

    const doc = await ctx.store.get<DispatchState>(paths.dispatchState(ref));
    await ctx.store.replace(
      paths.dispatchState(ref),
      { ...doc?.value, stalled: MAX_ATTEMPTS },
      doc?.etag ?? "",
    );
    ctx.store.advance(2 * LEASE_MS + 1);
    await pollJob(ctx, poll);
    expect((await job(ctx))?.failureReasons[0]).toEqual({
      FailureCode: "PreparationFailed",
      FailureReason: `the manifest could not be prepared in ${MAX_ATTEMPTS} attempts`,
    });
    expect((await job(ctx))?.status).toBe("Failed");
  });

  it("of a job whose dispatch never wrote its document is sent once the job is two leases old", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "New");
    await pollJob(ctx, poll);
    expect(sent(ctx, "dispatch")).toHaveLength(0);
    ctx.store.advance(2 * LEASE_MS);
    await pollJob(ctx, poll);
    await pollJob(ctx, poll);
    expect(sent(ctx, "dispatch")).toHaveLength(1);
    expect(await ctx.store.get(paths.dispatchState(ref))).toBeDefined();
  });
});

describe("the merge", () => {
  it("is started once, resumed when its holder died, and given up after maxAttempts takes", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Completing");
    await pollJob(ctx, poll);
    await pollJob(ctx, poll);
    expect(sent(ctx, "merge")).toHaveLength(1);

    const key = paths.mergeState(ref);
    const doc = await ctx.store.get<MergeState>(key);
    await ctx.store.replace<MergeState>(
      key,
      { attempts: 1, stalled: 1, lease: { attempt: "dead0003", renewedAt: "" } },
      doc?.etag ?? "",
    );
    await pollJob(ctx, poll);
    expect(sent(ctx, "merge")).toHaveLength(1);
    ctx.store.advance(LEASE_MS + 1);
    await pollJob(ctx, poll);
    expect(sent(ctx, "merge")).toHaveLength(2);
    expect((await ctx.store.get<MergeState>(key))?.value.lease).toBeUndefined();

    const released = await ctx.store.get<MergeState>(key);
    await ctx.store.replace<MergeState>(
      key,
      { ...released?.value, attempts: 3, stalled: MAX_ATTEMPTS },
      released?.etag ?? "",
    );
    ctx.store.advance(LEASE_MS + 1);
    await pollJob(ctx, poll);
    const j = await job(ctx);
    expect(j?.status).toBe("Failed");
    expect(j?.failureReasons).toEqual([
      {
        FailureCode: "ReportFailed",
        FailureReason: `the completion report could not be written in ${MAX_ATTEMPTS} attempts`,
      },
    ]);
  });

  it("that committed its counts and died before the final status is finished from them, not re-run", async () => {
    const ctx = fakeContext();
    await givenJob(ctx, "Completing");
    await ctx.store.create<MergeState>(paths.mergeState(ref), {
      attempts: 1,
      stalled: 0,
      done: { counts: { succeeded: 7, failed: 3 }, total: 10 },
    });
    await pollJob(ctx, poll);
    const j = await job(ctx);
    expect(j?.status).toBe("Complete");
    expect(j?.progress).toEqual({ total: 10, succeeded: 7, failed: 3 });
    expect(sent(ctx, "merge")).toHaveLength(0);
  });
});

describe("a notification", () => {
  const queueUrl = "https://sqs.us-east-1.amazonaws.com/123456789012/job-events";

  it("is retried with back-off while its target is down, then delivered once, in order", async () => {
    const ctx = fakeContext({ S3BATCH_NOTIFY_QUEUES: queueUrl });
    await givenJob(ctx, "Active", { tags: [{ Key: NOTIFY_TAG, Value: queueUrl }] });
    const j = (await job(ctx)) as JobRecord;
    ctx.queue.failNotifications = 2;

    expect(await notifyStep(ctx, j)).toBe(true);
    expect(ctx.queue.notifications).toHaveLength(0);
    expect(await events(ctx)).toEqual(["notification-undelivered"]);

    // Due again after a second (the retry policy's first wait): not before.
    ctx.store.advance(500);
    expect(await notifyStep(ctx, j)).toBe(true);
    expect(ctx.queue.failNotifications).toBe(1);
    ctx.store.advance(600);
    expect(await notifyStep(ctx, j)).toBe(true);
    expect(ctx.queue.failNotifications).toBe(0);

    ctx.store.advance(2_100);
    expect(await notifyStep(ctx, j)).toBe(false);
    expect(ctx.queue.notifications.map((n) => n.eventId)).toEqual([`${ref.jobId}-1`]);
    expect(await notifyStep(ctx, j)).toBe(false);
    expect(ctx.queue.notifications).toHaveLength(1);
  });

  it("is not sent by a second poll while the first holds the outbox", async () => {
    const ctx = fakeContext({ S3BATCH_NOTIFY_QUEUES: queueUrl });
    await givenJob(ctx, "Active", { tags: [{ Key: NOTIFY_TAG, Value: queueUrl }] });
    const j = (await job(ctx)) as JobRecord;
    const held = await leaseAcquire(ctx.store, paths.notifyOutbox(ref), "other001", {
      initial: () => ({ sent: 0, tries: 0, nextAt: 0, attempts: 0, stalled: 0 }),
      finished: () => false,
      leaseMs: LEASE_MS,
      log: ctx.log,
    });
    expect(held?.kind).toBe("held");
    expect(await notifyStep(ctx, j)).toBe(true);
    expect(ctx.queue.notifications).toHaveLength(0);
  });
});

describe("the lease", () => {
  const options = (log: FakeContext["log"]) => ({
    initial: () => ({ attempts: 0, stalled: 0 }),
    finished: () => false,
    leaseMs: LEASE_MS,
    log,
  });

  it("is held by one delivery at a time; a holder that stopped renewing loses it, and its next write fails", async () => {
    const ctx = fakeContext();
    const key = "leases/one.json";
    const first = await leaseAcquire(ctx.store, key, "aaaaaaaa", options(ctx.log));
    expect(first?.kind).toBe("held");
    expect((await leaseAcquire(ctx.store, key, "bbbbbbbb", options(ctx.log)))?.kind).toBe("busy");
    ctx.store.advance(LEASE_MS + 1);
    const second = await leaseAcquire(ctx.store, key, "cccccccc", options(ctx.log));
    expect(second?.kind === "held" && second.lease.value).toMatchObject({ attempts: 2, stalled: 2 });
    if (first?.kind !== "held") throw new TypeError("unreachable");
    await expect(first.lease.update((v) => ({ ...v }))).rejects.toThrow(/lost its race/);
    expect(first.lease.lost.aborted).toBe(true);
  });

  it("tells a delivery finding a silent holder when to come back, and a live holder's duplicate to go", () => {
    expect(comeBackAfterSeconds({ ageMs: 5_000 }, LEASE_MS)).toBe(6);
    expect(comeBackAfterSeconds({ ageMs: 9_500 }, LEASE_MS)).toBe(2);
    expect(comeBackAfterSeconds({ ageMs: 2_000 }, LEASE_MS)).toBeUndefined();
  });
});

describe("the conditional update", () => {
  it("lands every one of concurrent changes, each decided on the document as it then stood", async () => {
    const store = new MemoryStore();
    await Promise.all(
      Array.from({ length: 6 }, () =>
        store.update<{ n: number }>("count.json", (d) => ({ n: d.n + 1 }), { initial: () => ({ n: 0 }) }),
      ),
    );
    expect((await store.get<{ n: number }>("count.json"))?.value).toEqual({ n: 6 });
  });

  it("says ContentionError when the document changes under every attempt, and leaves a missing one missing", async () => {
    class Busy extends MemoryStore {
      override async getBytes(key: string) {
        const read = await super.getBytes(key);
        if (read) await this.replace(key, { n: Math.random() }, read.etag);
        return read;
      }
    }
    const store = new Busy();
    await store.create("hot.json", { n: 0 });
    await expect(store.update<{ n: number }>("hot.json", (d) => ({ n: d.n + 1 }))).rejects.toBeInstanceOf(
      ContentionError,
    );
    expect(await store.update("absent.json", () => ({ n: 1 }))).toBeUndefined();
    expect(await store.get("absent.json")).toBeUndefined();
  });
});

describe("the poll chain", () => {
  it("has one link per job: the current link sends its successor, other copies end, a quiet job stops it", async () => {
    const ctx = fakeContext();
    const first = { ...poll, chain: true, token: "0000000a" };
    await chainStep(ctx, first, "Active");
    const [next] = ctx.queue.drain("poll");
    expect(next).toMatchObject({ chain: true, prev: "0000000a" });

    // A redelivered copy of the first link, and a second chain's link, end there.
    await chainStep(ctx, { ...poll, chain: true, token: "0000000b" }, "Active");
    expect(ctx.queue.waiting("poll")).toHaveLength(0);

    // The successor carries on; its own redelivery too (its token is the predecessor of the next).
    if (next?.type !== "poll") throw new TypeError("unreachable");
    await chainStep(ctx, next, "Active");
    expect(ctx.queue.drain("poll")).toHaveLength(1);

    // Suspended: the chain stops and its document goes.
    const [again] = [
      {
        ...next,
        token: JSON.parse(new TextDecoder().decode((await ctx.store.getBytes(paths.pollChain(ref)))?.body))
          .token,
      },
    ];
    await chainStep(ctx, again, "Suspended");
    expect(ctx.queue.waiting("poll")).toHaveLength(0);
    expect(await ctx.store.getBytes(paths.pollChain(ref))).toBeUndefined();
  });
});
