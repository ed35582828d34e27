// Conditional writes of job records, on the in-memory store (the same ETags and conditions as S3).
import { describe, expect, it } from "vitest";
import type { JobRecord } from "../../lib/jobs/model.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { jobGet } from "../../lib/jobs/store.ts";
import {
  JobStatusError,
  jobMarkActive,
  jobMarkPreparing,
  jobNoteExhausted,
  TRANSITIONS,
} from "../../lib/jobs/transitions.ts";
import { MemoryStore } from "../fakes/memory-store.ts";

const ref = { accountId: "123456789012", jobId: "job-00001" };

const job = (status: JobRecord["status"]): JobRecord =>
  ({
    schema: 1,
    ...ref,
    status,
    request: {} as JobRecord["request"],
    priority: 1,
    tags: [],
    createdAt: "2026-01-01T00:00:00.000Z",
    phaseTimes: {},
    history: [{ status: "New", at: "2026-01-01T00:00:00.000Z" }],
    progress: { total: 0, succeeded: 0, failed: 0 },
    failureReasons: [],
  }) as JobRecord;

/** A store where another writer changes the record between this writer's read and its write, once. */
class RacedStore extends MemoryStore {
  raced = false;
  override async getBytes(key: string) {
    const read = await super.getBytes(key);
    if (read && !this.raced && key === paths.job(ref)) {
      this.raced = true;
      const current = JSON.parse(new TextDecoder().decode(read.body)) as JobRecord;
      await this.replace(key, { ...current, priority: 7 }, read.etag);
    }
    return read;
  }
}

describe("job transitions", () => {
  it("writes If-Match on the ETag just read, and after losing a race reads again and keeps the other write", async () => {
    const store = new RacedStore();
    await store.create(paths.job(ref), job("New"));

    const moved = await jobMarkPreparing(store, ref);

    expect(moved.status).toBe("Preparing");
    expect(store.raced).toBe(true);
    const stored = (await jobGet(store, ref))?.value;
    expect(stored).toMatchObject({ status: "Preparing", priority: 7 });
    expect(store.writes.filter((w) => w.key === paths.job(ref)).map((w) => w.condition)).toEqual([
      "create",
      "replace", // the other writer's
      "replace", // this one's, on the second read
    ]);
  });

  it("records the status change's event in the same conditional write, and in no other", async () => {
    const store = new MemoryStore();
    await store.create(paths.job(ref), job("New"));

    await jobMarkPreparing(store, ref, { statusUpdateReason: "go" });

    expect(store.writes).toHaveLength(2);
    const written = (await jobGet(store, ref))?.value;
    expect(written?.history.map((e) => e.status)).toEqual(["New", "Preparing"]);
    expect(written?.history[1]).toMatchObject({ status: "Preparing", statusUpdateReason: "go" });
  });

  it("is a no-op when the job already has the status, and refuses a transition the table forbids", async () => {
    const store = new MemoryStore();
    await store.create(paths.job(ref), job("Active"));
    expect((await jobMarkActive(store, ref)).status).toBe("Active");
    expect(store.writes).toHaveLength(1);

    await store.replace(paths.job(ref), job("Complete"), (await jobGet(store, ref))?.etag ?? "");
    await expect(jobMarkActive(store, ref)).rejects.toBeInstanceOf(JobStatusError);
  });

  it("has no way out of a terminal status", () => {
    expect(TRANSITIONS.Complete).toEqual([]);
    expect(TRANSITIONS.Cancelled).toEqual([]);
    expect(TRANSITIONS.Failed).toEqual([]);
  });

  it("counts exhausted shards per endpoint in the record, one FailureReason per endpoint", async () => {
    const store = new MemoryStore();
    await store.create(paths.job(ref), job("Active"));
    await jobNoteExhausted(store, ref, "gateway-a", "first");
    await jobNoteExhausted(store, ref, "gateway-b", "other");
    // A reason that merely reads like a count does not change it.
    await jobNoteExhausted(store, ref, "gateway-a", "99 shards of trouble");

    const stored = (await jobGet(store, ref))?.value;
    expect(stored?.exhaustedShards).toEqual({ "gateway-a": 2, "gateway-b": 1 });
    expect(stored?.failureReasons.map((r) => r.FailureReason)).toEqual([
      "endpoint gateway-a: 2 shards not completed; last: 99 shards of trouble",
      "endpoint gateway-b: 1 shard not completed; last: other",
    ]);
  });
});
