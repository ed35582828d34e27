// The retry policy's rules, and the pieces built on them, as pure logic: error classes, back-off
// bounds, an endpoint's outage window, a task under the runner, progress marker names.
import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { parseProgressMarker, progressMarkerKey } from "../../lib/children/progress.ts";
import { type ChildState, initialChildState } from "../../lib/children/state.ts";
import { runTask } from "../../lib/children/task-runner.ts";
import type { TaskOutcome } from "../../lib/operations/types.ts";
import { outcomeFromError } from "../../lib/operations/types.ts";
import { EndpointAvailability } from "../../lib/retry/availability.ts";
import { backoffMs, classifyError, redeliveryDelaySeconds } from "../../lib/retry/policy.ts";

const s3Error = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
const networkError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });

describe("error classes", () => {
  it("tells throttling, unavailability, server errors and final answers apart", () => {
    expect(classifyError(s3Error("SlowDown", 503))).toBe("throttled");
    expect(classifyError(s3Error("ThrottlingException", 400))).toBe("throttled");
    expect(classifyError(s3Error("TooManyRequests", 429))).toBe("throttled");
    expect(classifyError(networkError("ECONNREFUSED"))).toBe("unavailable");
    expect(classifyError(networkError("ECONNRESET"))).toBe("unavailable");
    expect(classifyError(Object.assign(new Error("socket hang up"), {}))).toBe("unavailable");
    expect(classifyError(Object.assign(new Error("timed out"), { name: "TimeoutError" }))).toBe(
      "unavailable",
    );
    expect(classifyError(new Error("wrapped", { cause: networkError("ETIMEDOUT") }))).toBe("unavailable");
    expect(classifyError(s3Error("InternalError", 500))).toBe("server");
    expect(classifyError(s3Error("BadGateway", 502))).toBe("server");
    expect(classifyError(s3Error("AccessDenied", 403))).toBe("final");
    expect(classifyError(s3Error("InvalidObjectState", 403))).toBe("final");
    expect(classifyError(new Error("the source object has no body"))).toBe("final");
  });

  it("carries the class on a task's failed outcome", () => {
    expect(outcomeFromError(s3Error("SlowDown", 503))).toMatchObject({
      kind: "failed",
      http: 503,
      cause: "throttled",
    });
    expect(outcomeFromError(networkError("ECONNREFUSED"))).toMatchObject({
      kind: "failed",
      cause: "unavailable",
    });
    expect(outcomeFromError(s3Error("NoSuchKey", 404))).toEqual({ kind: "missing" });
  });
});

describe("back-off", () => {
  it("grows exponentially within its cap, with half of it random", () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(10_000, 500 * 2 ** (attempt - 1));
      expect(backoffMs(attempt, "unavailable", () => 0)).toBe(Math.round(ceiling / 2));
      expect(backoffMs(attempt, "unavailable", () => 0.999999)).toBeLessThanOrEqual(ceiling);
    }
    expect(backoffMs(30, "throttled", () => 1)).toBe(5_000);
  });

  it("brings a failed message back sooner than a visibility timeout, later each time", () => {
    const delays = [1, 2, 3, 4, 5, 9].map((n) => redeliveryDelaySeconds(n, () => 0.5));
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays[0]).toBeLessThanOrEqual(2);
    expect(redeliveryDelaySeconds(50, () => 1)).toBe(300);
  });
});

describe("an endpoint's outage window", () => {
  it("opens at the first failure of a run, closes at any answer, and runs out after the window", () => {
    let now = 1_000;
    const e = new EndpointAvailability("gw", 5_000, () => now);
    e.failed("ECONNREFUSED");
    now += 4_000;
    e.failed("ECONNREFUSED");
    expect(e.exceeded()).toBe(false);
    now += 2_000;
    expect(e.exceeded()).toBe(true);
    expect(e.outageMessage()).toMatch(/^unavailable for 6 s \(outage window 5 s\); last error: ECONNREFUSED/);
    e.answered();
    expect(e.exceeded()).toBe(false);
    expect(e.since).toBeUndefined();
  });
});

describe("a task under the runner", () => {
  const gw = (windowMs: number) => ({
    limit: (<T>(f: () => Promise<T>) => f()) as never,
    availability: new EndpointAvailability("gw", windowMs),
  });
  const failed = (cause: "throttled" | "unavailable" | "server"): TaskOutcome => ({
    kind: "failed",
    http: cause === "server" ? 500 : 503,
    code: cause,
    message: cause,
    cause,
  });

  it("retries throttling until it succeeds, and counts nothing against the task", async () => {
    const answers = [
      failed("throttled"),
      failed("throttled"),
      failed("throttled"),
      { kind: "succeeded", message: "ok" } as const,
    ];
    const out = await runTask(
      gw(60_000),
      new AbortController().signal,
      async () => answers.shift() as TaskOutcome,
      async () => true,
    );
    expect(out).toEqual({ kind: "succeeded", message: "ok" });
    expect(answers).toEqual([]);
  });

  it("reports a server error as the object's own when the endpoint answers other requests", async () => {
    let calls = 0;
    const out = await runTask(
      gw(60_000),
      new AbortController().signal,
      async () => {
        calls++;
        return failed("server");
      },
      async () => true,
    );
    expect(out).toMatchObject({ kind: "failed", http: 500 });
    expect(calls).toBe(4);
  });

  it("fails with 503 once the endpoint's outage outlasts the window", async () => {
    const out = await runTask(
      gw(300),
      new AbortController().signal,
      async () => failed("unavailable"),
      async () => false,
    );
    expect(out).toMatchObject({ kind: "failed", http: 503, code: "ServiceUnavailable" });
  });

  it("past the window fails tasks untried while tries keep failing, and tries again a second on", async () => {
    let now = 0;
    const g = { ...gw(3_000), availability: new EndpointAvailability("gw", 3_000, () => now) };
    g.availability.failed("connect ECONNREFUSED");
    now = 4_000;
    g.availability.failed("connect ECONNREFUSED");
    let tries = 0;
    const attempt = async () => {
      tries++;
      return { kind: "succeeded", message: "ok" } as const;
    };
    const untried = await runTask(g, new AbortController().signal, attempt, async () => false);
    expect(untried).toMatchObject({ kind: "failed", http: 503, code: "ServiceUnavailable" });
    expect((untried as { message: string }).message).toMatch(
      /^unavailable for 4 s \(outage window 3 s\); last error: connect ECONNREFUSED/,
    );
    expect(tries).toBe(0);
    // A second without a failure: the next task tries, and the gateway is back.
    now = 5_000;
    expect(await runTask(g, new AbortController().signal, attempt, async () => false)).toEqual({
      kind: "succeeded",
      message: "ok",
    });
    expect(tries).toBe(1);
    expect(g.availability.exceeded()).toBe(false);
  });

  it("gives up without an outcome when stopped while waiting", async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    const out = await runTask(
      gw(60_000),
      stop.signal,
      async () => failed("unavailable"),
      async () => false,
    );
    expect(out).toBeUndefined();
  });
});

describe("progress markers", () => {
  it("name a checkpoint that parses back to the same facts", () => {
    const ref = { accountId: "123456789012", jobId: "job-1", endpointId: "gateway-b", shard: 7 };
    const s: ChildState = {
      ...initialChildState(ref, { firstRow: 70_000, rowCount: 10_000, startByte: 0, endByte: 9 }),
      status: "exhausted",
      nextRow: 71_234,
      found: 1_000,
      succeeded: 990,
      failed: 8_776,
      missing: 3,
      segments: ["a", "b"],
      tail: "jobs/123456789012/job-1/outputs/gateway-b/00000007/0badcafe/tail-0000071234",
    };
    const key = progressMarkerKey(ref, s);
    const name = key.slice("jobs/123456789012/job-1/progress/".length);
    expect(parseProgressMarker(name)).toEqual({
      endpointId: "gateway-b",
      shard: 7,
      ranTo: 71_234,
      status: "exhausted",
      tailAttempt: "0badcafe",
      segments: 2,
      found: 1_000,
      succeeded: 990,
      failed: 8_776,
      missing: 3,
      done: 1_234,
    });
    expect(parseProgressMarker("gateway-b/00000007/junk")).toBeUndefined();
  });
});
