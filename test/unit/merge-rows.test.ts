// The merge against a brute-force reference on randomized shapes: 1-5 endpoints, 1-50 shards,
// objects on several endpoints, missing rows and buckets, failures and successes with awkward
// messages, operations that run on every holder or on the first, and children exhausted partway.
// Child outputs are real output objects (portable roaring bitmap + outcome lines) read back in
// random chunks.
import { describe, expect, it } from "vitest";
import {
  bitmapsReady,
  deserializeBitmap,
  newBitmap,
  serializeBitmap,
} from "../../lib/bitmap/valid-bitmap.ts";
import { encodeChildOutput, openChildOutput, outcomeLine } from "../../lib/children/output.ts";
import type { TaskRow } from "../../lib/manifest/rows.ts";
import { echoOf } from "../../lib/manifest/rows.ts";
import { type ChildView, mergeBatch } from "../../lib/merge/merge-rows.ts";
import { PartCursor } from "../../lib/merge/part-cursor.ts";
import { type ReportRow, reportLine } from "../../lib/report/layout.ts";
import { rng } from "../helpers/rng.ts";

type Outcome = { ok: true; message: string } | { ok: false; http: number; code: string; message: string };

function chunked(bytes: Uint8Array, rand: () => number): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(rand() * 64);
        c.enqueue(bytes.slice(i, i + n));
        i += n;
      }
      c.close();
    },
  });
}

/** The rows in batches of random sizes, as the manifest reader yields them. */
function* batches<T>(items: T[], rand: () => number) {
  for (let i = 0; i < items.length; ) {
    const n = 1 + Math.floor(rand() * 40);
    yield items.slice(i, i + n);
    i += n;
  }
}

function shape(seed: number) {
  const rand = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const endpoints = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, i) => `e${i}`);
  const buckets = ["b0", "b1", "b2", "b3"];
  const routing: Record<string, string[]> = {};
  for (const b of buckets) routing[b] = endpoints.filter(() => rand() < 0.6);
  const rowCount = 1 + Math.floor(rand() * 400);
  const rows: TaskRow[] = [];
  const truth = new Map<string, Outcome>(); // `${row}/${endpoint}` → what happened there
  for (let index = 0; index < rowCount; index++) {
    const bucket = pick(buckets);
    const key = `k ${index},"q"`;
    rows.push({ index, bucket, key, rawKey: encodeURIComponent(key) });
    for (const e of routing[bucket] ?? []) {
      if (rand() < 0.35) continue; // not on this endpoint
      truth.set(
        `${index}/${e}`,
        rand() < 0.7
          ? { ok: true, message: rand() < 0.8 ? "Successful" : pick(["crc32=AAAA", 'sum "x", 1']) }
          : {
              ok: false,
              http: pick([403, 409, 500]),
              code: pick(["AccessDenied", "Conflict", "InternalError"]),
              message: pick(["denied", 'say "no", twice', "x\ty"]),
            },
      );
    }
  }
  const cuts = new Set([0, rowCount]);
  const shards = 1 + Math.floor(rand() * Math.min(50, rowCount));
  while (cuts.size < shards + 1) cuts.add(Math.floor(rand() * rowCount));
  const bounds = [...cuts].sort((a, b) => a - b);
  // "first": only the first endpoint (configured order) holding the object runs the task.
  const placement = rand() < 0.5 ? ("every" as const) : ("first" as const);
  if (placement === "first")
    for (const row of rows) {
      const holders = endpoints.filter((e) => truth.has(`${row.index}/${e}`));
      for (const e of holders.slice(1)) truth.delete(`${row.index}/${e}`);
    }
  // Some children are exhausted from a row on: those rows did not run on that endpoint. Others
  // were stopped (a cancel) at a row: those rows were not even looked at there.
  const exhaustedFrom = new Map<string, number>(); // `${shard}/${endpoint}` → first row not run
  const stoppedAt = new Map<string, number>(); // `${shard}/${endpoint}` → first row not looked at
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [from, to] = [bounds[i] ?? 0, bounds[i + 1] ?? 0];
    for (const e of endpoints) {
      const roll = rand();
      if (roll >= 0.3) continue;
      const at = from + Math.floor(rand() * (to - from + 1));
      (roll < 0.15 ? exhaustedFrom : stoppedAt).set(`${i}/${e}`, at);
      for (let r = at; r < to; r++) truth.delete(`${r}/${e}`);
    }
  }
  const shardOf = (row: number) => bounds.findIndex((b, i) => row >= b && row < (bounds[i + 1] ?? 0));
  return { rand, endpoints, routing, rows, truth, bounds, placement, exhaustedFrom, stoppedAt, shardOf };
}

const EXHAUSTED = { http: 500, code: "AttemptsExhausted", message: "not completed after 5 attempts" };

/**
 * The report the merge must write: each row's line, in manifest order, in its status's file; a
 * row found nowhere is reported only if every endpoint that could hold it looked (no stopped child
 * of its shard had yet to reach it).
 */
function reference(s: ReturnType<typeof shape>): Report {
  const rows = s.rows.flatMap((row): ReportRow[] => {
    const base = { bucket: row.bucket, key: row.rawKey };
    const ran = s.endpoints.flatMap((e) => {
      const o = s.truth.get(`${row.index}/${e}`);
      return o ? [{ e, o }] : [];
    });
    const holders = s.routing[row.bucket] ?? [];
    const shard = s.shardOf(row.index);
    let exhausted = s.endpoints.filter(
      (e) =>
        holders.includes(e) &&
        (s.exhaustedFrom.get(`${shard}/${e}`) ?? Number.POSITIVE_INFINITY) <= row.index,
    );
    if (s.placement === "first" && ran.length > 0) exhausted = [];
    if (exhausted.length > 0) {
      const failures = s.endpoints.flatMap((e) => {
        if (exhausted.includes(e)) return [{ e, o: { ok: false as const, ...EXHAUSTED } }];
        const o = s.truth.get(`${row.index}/${e}`);
        return o && !o.ok ? [{ e, o }] : [];
      });
      const first = failures[0]?.o as Extract<Outcome, { ok: false }>;
      return [
        {
          ...base,
          status: "failed",
          http: first.http,
          code: first.code,
          message: failures.map((f) => `endpoint ${f.e}: ${f.o.message}`).join("; "),
        },
      ];
    }
    if (ran.length === 0) {
      const noBucket = (s.routing[row.bucket] ?? []).length === 0;
      const held = new Set(
        s.rows.filter((r) => s.shardOf(r.index) === shard).flatMap((r) => s.routing[r.bucket] ?? []),
      );
      const lookers = noBucket ? [...held] : holders;
      const looked = lookers.every(
        (e) => (s.stoppedAt.get(`${shard}/${e}`) ?? Number.POSITIVE_INFINITY) > row.index,
      );
      if (!looked) return [];
      return [
        {
          ...base,
          status: "failed",
          http: 404,
          code: noBucket ? "NoSuchBucket" : "NoSuchKey",
          message: noBucket
            ? "The specified bucket does not exist on any endpoint"
            : "The specified key does not exist on any endpoint",
        },
      ];
    }
    const failed = ran.filter((r) => !r.o.ok) as { e: string; o: Extract<Outcome, { ok: false }> }[];
    const first = failed[0];
    if (!first)
      return [
        {
          ...base,
          status: "succeeded",
          http: 200,
          code: "",
          message: ran.find((r) => r.o.ok)?.o.message ?? "",
        },
      ];
    return [
      {
        ...base,
        status: "failed",
        http: first.o.http,
        code: first.o.code,
        message: failed.map((f) => `endpoint ${f.e}: ${f.o.message}`).join("; "),
      },
    ];
  });
  const file = (status: string) =>
    rows
      .filter((r) => r.status === status)
      .map(reportLine)
      .join("");
  return { succeeded: file("succeeded"), failed: file("failed"), rows: rows.length };
}

type Report = { succeeded: string; failed: string; rows: number };

async function merged(s: ReturnType<typeof shape>): Promise<Report> {
  const out: Report = { succeeded: "", failed: "", rows: 0 };
  for (let i = 0; i + 1 < s.bounds.length; i++) {
    const [from, to] = [s.bounds[i] ?? 0, s.bounds[i + 1] ?? 0];
    const shardRows = s.rows.slice(from, to);
    const held = new Set(shardRows.flatMap((r) => s.routing[r.bucket] ?? []));
    const children: ChildView[] = [];
    const bitmaps: { dispose(): void }[] = [];
    const union = newBitmap();
    bitmaps.push(union);
    for (const e of s.endpoints.filter((x) => held.has(x))) {
      const bitmap = newBitmap();
      let outcomes = "";
      for (const r of shardRows) {
        const o = s.truth.get(`${r.index}/${e}`);
        if (!o) continue;
        bitmap.add(r.index);
        outcomes += outcomeLine(
          r.index,
          o.ok ? { kind: "succeeded", message: o.message } : { kind: "failed", ...o },
        );
      }
      // The child's real output object, read back in random chunks.
      const bytes = encodeChildOutput(serializeBitmap(bitmap), outcomes);
      bitmap.dispose();
      const output = await openChildOutput(chunked(bytes, s.rand));
      const portable = deserializeBitmap(output.bitmap);
      union.orInPlace(portable);
      bitmaps.push(portable);
      const from = s.exhaustedFrom.get(`${i}/${e}`);
      const stopped = s.stoppedAt.get(`${i}/${e}`);
      children.push({
        endpointId: e,
        bitmap: portable,
        outcomes: new PartCursor(output.outcomes),
        ...(from !== undefined ? { exhaustedFrom: from, exhausted: EXHAUSTED } : {}),
        ...(stopped !== undefined ? { ranTo: stopped } : {}),
      });
    }
    const exhaustedFrom = Math.min(...children.map((c) => c.exhaustedFrom ?? Number.POSITIVE_INFINITY));
    const view = { children, found: union, exhaustedFrom, placement: s.placement };
    const echoRows = shardRows.map((r) => ({ index: r.index, echo: echoOf(r) }));
    for (const rows of batches(echoRows, s.rand)) {
      const b = await mergeBatch(rows, view, s.routing);
      out.succeeded += b.succeeded;
      out.failed += b.failed;
      out.rows += b.succeededRows + b.failedRows;
    }
    for (const b of bitmaps) b.dispose();
  }
  return out;
}

describe("merge rows", () => {
  it("equals the brute-force reference on 300 randomized shapes, stopped children included", async () => {
    await bitmapsReady();
    let dropped = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const s = shape(seed);
      const got = await merged(s);
      const want = reference(s);
      expect(got, `seed ${seed}`).toEqual(want);
      dropped += s.rows.length - want.rows;
    }
    // Stopped children left rows unlooked-at in many shapes: those are absent, the rest reported.
    expect(dropped).toBeGreaterThan(100);
  });

  it("refuses a row that is in the OR of the bitmaps but in no child's bitmap", async () => {
    await bitmapsReady();
    const union = newBitmap();
    union.add(0);
    const child: ChildView = { endpointId: "e0", bitmap: undefined, outcomes: PartCursor.empty() };
    await expect(
      mergeBatch(
        [{ index: 0, echo: "b,k," }],
        { children: [child], found: union, exhaustedFrom: Number.POSITIVE_INFINITY, placement: "every" },
        { b: ["e0"] },
      ),
    ).rejects.toThrow(/in none of them/);
    union.dispose();
  });
});
