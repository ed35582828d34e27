// The adaptive in-flight limit against simulated gateways: rounds of requests on a virtual clock,
// every slot used, each request answered, throttled or slowed as the simulated gateway decides.

import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { AdaptiveLimit, type AttemptEnd, endOf } from "../../lib/endpoints/adaptive.ts";

/** Runs `rounds` round trips; `gateway(inFlight)` says how each request of a round ends, and its latency. */
function simulate(
  limit: AdaptiveLimit,
  clock: { now: number },
  rounds: number,
  gateway: (inFlight: number, i: number) => { end: AttemptEnd; latencyMs: number },
): number[] {
  const limits: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const n = limit.limit;
    for (let i = 0; i < n; i++) limit.started();
    const answers = Array.from({ length: n }, (_, i) => gateway(n, i));
    // The round's answers arrive once the round trip is over.
    clock.now += Math.max(...answers.map((a) => a.latencyMs));
    for (const { end, latencyMs } of answers) limit.ended(latencyMs, end);
    limits.push(limit.limit);
  }
  return limits;
}

describe("the adaptive in-flight limit", () => {
  it("starts low and climbs to the ceiling on a gateway that keeps up", () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ floor: 2, ceiling: 128 }, () => clock.now);
    expect(limit.limit).toBe(8);
    const limits = simulate(limit, clock, 12, () => ({ end: "answered", latencyMs: 10 }));
    expect(limits.slice(0, 4)).toEqual([16, 32, 64, 128]);
    expect(limit.limit).toBe(128);
  });

  it("settles under a gateway's concurrency threshold, neither at the floor nor above it for long", () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ floor: 2, ceiling: 256 }, () => clock.now);
    // Above 40 requests at once, those past the 40th are throttled (503 SlowDown).
    const limits = simulate(limit, clock, 200, (_n, i) => ({
      end: i >= 40 ? "loaded" : "answered",
      latencyMs: 10,
    }));
    const late = limits.slice(100);
    expect(Math.max(...late)).toBeLessThanOrEqual(41);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(28);
    expect(limit.seen.cuts).toBeGreaterThan(0);
  });

  it("cuts once per window however many throttled answers a burst brings", () => {
    const clock = { now: 1_000 };
    const limit = new AdaptiveLimit({ floor: 2, ceiling: 64, start: 40 }, () => clock.now);
    for (let i = 0; i < 40; i++) limit.started();
    for (let i = 0; i < 40; i++) limit.ended(20, "loaded");
    expect(limit.limit).toBe(28);
    clock.now += 100;
    limit.started();
    limit.ended(20, "loaded");
    expect(limit.limit).toBe(19);
  });

  it("stops growing where latency doubles: more in flight would only queue at the gateway", () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ floor: 2, ceiling: 256 }, () => clock.now);
    // The gateway serves 24 at a time; beyond, requests wait in its queue.
    const limits = simulate(limit, clock, 60, (n) => ({
      end: "answered",
      latencyMs: 10 * Math.max(1, n / 24),
    }));
    expect(Math.max(...limits)).toBeLessThanOrEqual(64);
    expect(limit.limit).toBeGreaterThanOrEqual(16);
  });

  it("does not grow while its slots are not all used", () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ floor: 2, ceiling: 64 }, () => clock.now);
    for (let r = 0; r < 20; r++) {
      for (let i = 0; i < 3; i++) limit.started();
      for (let i = 0; i < 3; i++) limit.ended(5, "answered");
    }
    expect(limit.limit).toBe(8);
  });

  it("stays between its floor and its ceiling", () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ floor: 3, ceiling: 10 }, () => clock.now);
    simulate(limit, clock, 50, () => ({ end: "loaded", latencyMs: 100 }));
    expect(limit.limit).toBe(3);
    const up = new AdaptiveLimit({ floor: 3, ceiling: 10 }, () => clock.now);
    simulate(up, clock, 50, () => ({ end: "answered", latencyMs: 5 }));
    expect(up.limit).toBe(10);
  });

  it("keeps its limit while a gateway refuses or resets connections: an outage is not load", () => {
    const clock = { now: 0 };
    const limit = new AdaptiveLimit({ floor: 2, ceiling: 64, start: 32 }, () => clock.now);
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect([endOf(refused), endOf(reset)]).toEqual(["failed", "failed"]);
    const limits = simulate(limit, clock, 30, (_n, i) => ({
      end: endOf(i % 2 ? refused : reset),
      latencyMs: 5,
    }));
    expect(new Set(limits)).toEqual(new Set([32]));
    expect(limit.seen.cuts).toBe(0);
  });

  it("reads throttles and timeouts as load, and any other answer as an answer", () => {
    const answer = (name: string, status: number) =>
      new S3ServiceException({
        name,
        $fault: status >= 500 ? "server" : "client",
        $metadata: { httpStatusCode: status },
      });
    const timedOut = Object.assign(new Error("timed out"), { name: "TimeoutError" });
    const connectTimeout = new Error("fetch failed", {
      cause: Object.assign(new Error("Connect Timeout Error"), { code: "UND_ERR_CONNECT_TIMEOUT" }),
    });
    expect(endOf(answer("SlowDown", 503))).toBe("loaded");
    expect(endOf(answer("TooManyRequests", 429))).toBe("loaded");
    expect(endOf(timedOut)).toBe("loaded");
    expect(endOf(connectTimeout)).toBe("loaded");
    expect(endOf(answer("InternalError", 500))).toBe("failed");
    expect(endOf(answer("NoSuchKey", 404))).toBe("answered");
    expect(endOf(answer("AccessDenied", 403))).toBe("answered");
  });
});
