// How many requests a gateway gets at once, found rather than configured. Every HTTP attempt to the
// gateway (SDK retries included) reports its latency and how it ended; the limit moves between a
// floor and the operator's `maxConcurrency` ceiling:
//   - it starts low and doubles each round-trip window in which every slot was used, nothing was
//     throttled and latency did not climb (slow start);
//   - a throttle (503 SlowDown, 429) or a timeout cuts it to 70%, at most once per window, and
//     from then on it grows by one per window (AIMD, as TCP's congestion avoidance);
//   - latency that doubles over the best seen means requests queue at the gateway: unless
//     throughput still rises, it steps back down, since more in flight would only wait longer.
// A window is `limit` completed requests: about one round trip of every slot. The deployment-wide
// budget (budget.ts) caps what all workers together hold at the ceiling; each worker's tasks wait
// for this limit first (clients.ts), so its demand never exceeds what the gateway has shown it takes.
import type { S3Client } from "@aws-sdk/client-s3";
import { classifyError, isLoadSignal } from "../retry/policy.ts";

export interface AdaptiveOptions {
  floor: number;
  ceiling: number;
  start?: number;
}

/**
 * How one HTTP attempt ended: answered (whatever it said); throttled or timed out (the gateway is
 * loaded: send less); or another failure (refused, reset, a server error: the endpoint's outage
 * window deals with it, and the limit neither grows nor shrinks on it).
 */
export type AttemptEnd = "answered" | "loaded" | "failed";

/** How an attempt that threw ended, for the limit. */
export function endOf(err: unknown): AttemptEnd {
  const cls = classifyError(err);
  if (cls === "final") return "answered";
  return isLoadSignal(err, cls) ? "loaded" : "failed";
}

const DECREASE = 0.7;
/** Latency over this many times the best seen counts as queueing at the gateway. */
const QUEUEING = 2;

export class AdaptiveLimit {
  private current: number;
  private phase: "slow-start" | "avoidance" = "slow-start";
  private readonly listeners: ((limit: number) => void)[] = [];
  private inFlight = 0;
  private window: Window;
  /** The best average latency of a full window: the gateway's latency when nothing queues. */
  private bestLatency = Number.POSITIVE_INFINITY;
  private lastThroughput = 0;
  private decreasedAt = 0;
  /** Throttles and timeouts seen, and cuts made: what the progress route shows with the limit. */
  readonly seen = { throttled: 0, cuts: 0 };

  constructor(
    readonly o: AdaptiveOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.current = clamp(o.start ?? Math.min(8, o.ceiling), o);
    this.window = emptyWindow(now());
  }

  get limit(): number {
    return this.current;
  }

  /** Calls `f` with every new limit. */
  onChange(f: (limit: number) => void): void {
    this.listeners.push(f);
  }

  /** An attempt is sent. */
  started(): void {
    this.inFlight++;
    if (this.inFlight >= this.current) this.window.saturated = true;
  }

  /** An attempt ended after `latencyMs`. */
  ended(latencyMs: number, end: AttemptEnd): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const w = this.window;
    w.done++;
    if (end === "loaded") {
      w.throttled++;
      this.seen.throttled++;
      this.cut(latencyMs);
      return;
    }
    if (end === "failed") w.failed++;
    else w.latencySum += latencyMs;
    if (w.done >= this.current) this.closeWindow();
  }

  private cut(latencyMs: number): void {
    // One cut per window: a burst of throttled answers to requests sent before the last cut says
    // nothing new.
    const now = this.now();
    if (now - this.decreasedAt < Math.max(latencyMs, 50)) return;
    this.decreasedAt = now;
    this.phase = "avoidance";
    this.seen.cuts++;
    this.set(Math.floor(this.current * DECREASE));
    this.window = emptyWindow(now);
  }

  private closeWindow(): void {
    const w = this.window;
    const now = this.now();
    this.window = { ...emptyWindow(now), saturated: this.inFlight >= this.current };
    const answered = w.done - w.throttled - w.failed;
    // Grow only when every slot was wanted and the gateway kept up.
    if (!w.saturated || w.throttled > 0 || w.failed > 0 || answered === 0) return;
    const latency = w.latencySum / answered;
    const throughput = answered / Math.max(1, now - w.start);
    const rising = this.lastThroughput > 0 && throughput > 1.1 * this.lastThroughput;
    this.lastThroughput = throughput;
    this.bestLatency = Math.min(this.bestLatency, latency);
    if (latency <= QUEUEING * this.bestLatency)
      this.set(this.phase === "slow-start" ? this.current * 2 : this.current + 1);
    else if (rising) this.set(this.current + 1);
    else {
      // Requests queue at the gateway and throughput is flat: fewer in flight serve as many.
      this.phase = "avoidance";
      this.set(this.current - 1);
    }
  }

  private set(limit: number): void {
    const next = clamp(limit, this.o);
    if (next === this.current) return;
    this.current = next;
    for (const f of this.listeners) f(next);
  }
}

interface Window {
  start: number;
  done: number;
  throttled: number;
  /** Attempts that failed for another reason than load (refused, reset, a server error). */
  failed: number;
  latencySum: number;
  /** Every slot was in use at some point of the window. */
  saturated: boolean;
}

const emptyWindow = (start: number): Window => ({
  start,
  done: 0,
  throttled: 0,
  failed: 0,
  latencySum: 0,
  saturated: false,
});

const clamp = (n: number, o: AdaptiveOptions) => Math.max(o.floor, Math.min(o.ceiling, Math.round(n)));

/** Reports every HTTP attempt `s3` sends (SDK retries included) to `limit`. */
export function observeAttempts(s3: S3Client, limit: AdaptiveLimit): void {
  s3.middlewareStack.add(
    (next) => async (args) => {
      const at = performance.now();
      limit.started();
      try {
        const out = await next(args);
        limit.ended(performance.now() - at, "answered");
        return out;
      } catch (err) {
        limit.ended(performance.now() - at, endOf(err));
        throw err;
      }
    },
    { step: "finalizeRequest", priority: "low", name: "s3batchAdaptiveLimit" },
  );
}
