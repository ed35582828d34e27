// A gateway's capacity as one budget for the whole deployment. An endpoint's `maxConcurrency` is
// the number of requests that may be in flight to it from all workers together: local processes,
// Lambda invocations, or both. The budget is shared through one document in the internal bucket,
// `budget/<endpoint>.json`: each holder (a process, or a Lambda container) records the slots it
// holds and how many it wants, and renews its entry every third of the lease. Slots are dealt
// fairly among the holders that want some; a holder grows only into slots nobody records, and
// shrinks (waits for its requests in flight to drop) before it records fewer, so the recorded
// slots never add up to more than the budget, and neither do the requests in flight. A holder
// that dies stops renewing; after the lease its slots are free again.
//
// Every request to the gateway takes a slot (an SDK middleware), from sending until its response
// body has been read or dropped, so SDK retries, streamed downloads and multipart parts all count.
import type { S3Client } from "@aws-sdk/client-s3";
import { BudgetUnavailableError, ContentionError, StoppedError } from "../errors.ts";
import { heartbeatMs } from "../leases/lease.ts";
import { CONFLICT_RETRY, sleep } from "../retry/policy.ts";
import type { JsonStore } from "../store/json-store.ts";
import type { Logger } from "../util/logger.ts";

interface BudgetDoc {
  /** `limit`: the holder's adaptive in-flight limit on the gateway (adaptive.ts), when it has one. */
  holders: Record<string, { slots: number; want: number; at: number; limit?: number }>;
}

export const budgetKey = (endpointId: string) => `budget/${endpointId}.json`;

/** The gateway's concurrency as the deployment stands: what the progress route and `s3batch show` say. */
export interface GatewayConcurrency {
  /** The adaptive limits of the workers holding slots, added up, capped by the ceiling. */
  limit: number;
  /** The endpoint's `maxConcurrency`. */
  ceiling: number;
  /** Workers (processes, Lambda containers) holding or wanting slots now. */
  workers: number;
}

/** Reads the gateway's budget document: its live holders' limits, or null when nobody holds any. */
export async function gatewayConcurrency(
  store: JsonStore,
  endpointId: string,
  ceiling: number,
  leaseMs: number,
): Promise<GatewayConcurrency | null> {
  const doc = await store.get<BudgetDoc>(budgetKey(endpointId));
  if (!doc) return null;
  const now = store.serverNow();
  const live = Object.values(doc.value.holders).filter((h) => now - h.at < leaseMs);
  if (live.length === 0) return null;
  const limit = live.reduce((n, h) => n + (h.limit ?? h.slots), 0);
  return { limit: Math.min(ceiling, limit), ceiling, workers: live.length };
}

/**
 * The fair deal of `budget` slots among holders wanting some: round-robin in holder order, each
 * up to what it wants. Pure, so every holder computes the same deal from the same document.
 */
export function fairShares(budget: number, wants: Record<string, number>): Record<string, number> {
  const ids = Object.keys(wants)
    .filter((id) => (wants[id] ?? 0) > 0)
    .sort();
  const out: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  let left = budget;
  for (let progressed = true; left > 0 && progressed; ) {
    progressed = false;
    for (const id of ids) {
      if (left === 0) break;
      if ((out[id] ?? 0) < (wants[id] ?? 0)) {
        out[id] = (out[id] ?? 0) + 1;
        left--;
        progressed = true;
      }
    }
  }
  return out;
}

/** What a holder may record next: its fair share, but never more than nobody else records. */
export function nextSlots(budget: number, doc: BudgetDoc, me: string, want: number): number {
  const wants = Object.fromEntries(Object.entries(doc.holders).map(([id, h]) => [id, h.want]));
  wants[me] = want;
  const share = fairShares(budget, wants)[me] ?? 0;
  const others = Object.entries(doc.holders).reduce((n, [id, h]) => (id === me ? n : n + h.slots), 0);
  return Math.max(0, Math.min(share, budget - others));
}

/** How long a holder that got less than it wanted waits before asking again (its renewal asks anyway). */
const SHORTFALL_PAUSE_MS = 250;

/** One endpoint's share of the deployment's budget, as this holder sees it. */
export class SharedBudget {
  private slots = 0;
  /** Slots are good until then (server clock); a holder that could not renew holds none. */
  private validUntil = 0;
  private active = 0;
  private readonly waiters: { resolve: () => void; signal?: AbortSignal | undefined }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking: Promise<void> | undefined;
  private wanted = false;
  /** A settlement was asked for while one was under way. */
  private again = false;
  /** Why the last settlement failed, while it keeps failing. */
  private failing: string | undefined;
  /**
   * The most requests in flight and waiting since the last settlement: what the next one records,
   * so a holder whose demand dips for a moment keeps its slots until the dip lasts a renewal.
   */
  private peak = 0;
  /** Until then (local ms) a new waiter does not settle at once: the last settlement fell short. */
  private shortUntil = 0;
  private soon: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: JsonStore,
    readonly endpointId: string,
    readonly budget: number,
    private readonly holder: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
    /** This holder's adaptive limit on the gateway, recorded with its entry. */
    private readonly limitNow?: () => number,
  ) {}

  private get key() {
    return budgetKey(this.endpointId);
  }

  private capacity(): number {
    return this.store.serverNow() < this.validUntil ? this.slots : 0;
  }

  /** Requests waiting plus in flight: what this holder wants, up to the whole budget. */
  private want(): number {
    return Math.min(this.budget, Math.max(this.peak, this.active + this.waiters.length));
  }

  private notePeak(): void {
    this.peak = Math.max(this.peak, this.active + this.waiters.length);
  }

  /**
   * Waits for a slot (or for `signal`); returns the function that gives it back. A wait that
   * outlasts three leases while the budget cannot be settled fails as the endpoint's
   * unavailability, so the retry policy and the outage window take over.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.capacity()) {
      this.active++;
      this.notePeak();
    } else {
      this.demand();
      // A waiter is counted in `active` by wake(), when it hands it a slot.
      await new Promise<void>((resolve, reject) => {
        const waiter = { resolve, signal };
        this.waiters.push(waiter);
        this.notePeak();
        const drop = (err: unknown) => {
          const at = this.waiters.indexOf(waiter);
          if (at === -1) return;
          this.waiters.splice(at, 1);
          clearTimeout(timer);
          reject(err);
        };
        const timer = setTimeout(() => {
          if (this.failing)
            drop(
              new BudgetUnavailableError(`the budget of ${this.endpointId} cannot be read: ${this.failing}`),
            );
        }, 3 * this.leaseMs);
        waiter.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
        signal?.addEventListener(
          "abort",
          () => drop(signal.reason ?? new StoppedError("the wait for a slot was stopped")),
          { once: true },
        );
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.wake();
    };
  }

  /** Hands free slots to waiters, in order. */
  private wake(): void {
    while (this.waiters.length > 0 && this.active < this.capacity()) {
      const w = this.waiters.shift();
      if (!w || w.signal?.aborted) continue;
      this.active++;
      w.resolve();
    }
  }

  /** Starts renewing (and, when requests wait, asks for slots at once). */
  private demand(): void {
    this.wanted = true;
    this.timer ??= setInterval(() => void this.tick(), heartbeatMs(this.leaseMs));
    this.tickSoon();
  }

  /**
   * A settlement now, or, while the last one fell short (others hold the rest of the budget), one
   * when SHORTFALL_PAUSE_MS has passed: waiting requests do not turn into a storm of reads and writes.
   */
  private tickSoon(): void {
    const wait = this.shortUntil - Date.now();
    if (wait <= 0) {
      void this.tick();
      return;
    }
    this.soon ??= setTimeout(() => {
      this.soon = undefined;
      void this.tick();
    }, wait);
  }

  /**
   * Reads the document, settles this holder's slots, writes its entry; one at a time. Requests
   * that began to wait while a settlement was under way were not in the want it recorded: a
   * fresh settlement follows at once for them.
   */
  private tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.again = false;
    this.ticking = this.settle()
      .then(() => {
        this.failing = undefined;
      })
      .catch((err) => {
        this.failing = (err as Error).message;
        this.log.warn("budget update failed", { endpoint: this.endpointId, message: this.failing });
      })
      .finally(() => {
        this.ticking = undefined;
        if (this.again && this.failing === undefined) this.tickSoon();
      });
    return this.ticking;
  }

  private async settle(): Promise<void> {
    for (let round = 0; round < CONFLICT_RETRY.attempts; round++) {
      let recorded: { slots: number; at: number; want: number } | undefined;
      let shrinkTo: number | undefined;
      await this.store.update<BudgetDoc>(
        this.key,
        (doc) => {
          recorded = undefined;
          shrinkTo = undefined;
          const now = this.store.serverNow();
          const holders = Object.fromEntries(
            Object.entries(doc.holders).filter(([id, h]) => id === this.holder || now - h.at < this.leaseMs),
          );
          const want = this.want();
          const target = nextSlots(this.budget, { holders }, this.holder, want);
          // Shrink before recording fewer slots: the requests in flight must fit the new number.
          if (target < this.active) {
            shrinkTo = target;
            return undefined;
          }
          if (want === 0 && target === 0) delete holders[this.holder];
          else
            holders[this.holder] = {
              slots: target,
              want,
              at: now,
              ...(this.limitNow ? { limit: this.limitNow() } : {}),
            };
          recorded = { slots: target, at: now, want };
          return { holders };
        },
        { initial: () => ({ holders: {} }) },
      );
      if (shrinkTo !== undefined) {
        this.slots = Math.min(this.slots, shrinkTo);
        while (this.active > shrinkTo) await sleep(20);
        continue;
      }
      if (!recorded) return;
      this.slots = recorded.slots;
      this.peak = this.active + this.waiters.length;
      if (recorded.slots < recorded.want) this.shortUntil = Date.now() + SHORTFALL_PAUSE_MS;
      this.validUntil = recorded.at + this.leaseMs;
      this.wake();
      // Stop renewing only when nothing wants a slot now, not just when the recorded want was 0.
      if (this.want() === 0 && this.wanted) {
        this.wanted = false;
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
      }
      return;
    }
    throw new ContentionError(`the budget of ${this.endpointId} kept shrinking under its requests`);
  }

  /** Takes a slot for every request `s3` sends, held until its response body is done with. */
  install(s3: S3Client): void {
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const signal = (context as { abortSignal?: AbortSignal }).abortSignal;
        const release = await this.acquire(signal);
        try {
          const out = await next(args);
          holdUntilRead(out.response as { body?: unknown }, release);
          return out;
        } catch (err) {
          release();
          throw err;
        }
      },
      { step: "finalizeRequest", priority: "low", name: `s3batchBudget-${this.endpointId}` },
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = undefined;
    this.soon = undefined;
  }
}

/** Gives the slot back when the response body has been read, failed or been dropped. */
function holdUntilRead(response: { body?: unknown } | undefined, release: () => void): void {
  const body = response?.body as
    | { on?: (event: string, f: () => void) => void; readableEnded?: boolean; destroyed?: boolean }
    | ReadableStream<Uint8Array>
    | undefined;
  if (body && "on" in body && typeof body.on === "function") {
    if (body.readableEnded || body.destroyed) {
      release();
      return;
    }
    body.on("close", release);
    body.on("end", release);
    body.on("error", release);
    return;
  }
  if (body instanceof ReadableStream && response) {
    const reader = body.getReader();
    response.body = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { value, done } = await reader.read();
          if (done) {
            release();
            c.close();
          } else c.enqueue(value);
        } catch (err) {
          release();
          c.error(err);
        }
      },
      cancel(why) {
        release();
        return reader.cancel(why);
      },
    });
    return;
  }
  release();
}
