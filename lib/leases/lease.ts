// Leases and heartbeats, for every step that runs long: a child on its shard, dispatch on its
// manifest, the merge on its report. The lease lives in the step's own state document: the
// holder's attempt id, renewed by a heartbeat that rewrites the document every third of the
// lease. Liveness is the document's age on the storage server's clock (its Last-Modified), so
// the reconciler (poll) reads it from a listing, and no host's clock has to agree with another's.
//
// A delivery takes the lease when the document is new, released, or older than the lease; a
// live lease held by another attempt means someone is on it, and the delivery leaves. Every
// write is conditional on the ETag last written, so a holder that lost its lease (it stalled,
// someone took over) finds out at its next write: its `lost` signal fires and it stops.
import { ConflictError, ContentionError } from "../errors.ts";
import type { JsonStore, Stored } from "../store/json-store.ts";
import type { Logger } from "../util/logger.ts";

export interface LeaseFields {
  /** The attempt holding the lease; absent once released. */
  lease?: { attempt: string; renewedAt: string };
  /** Deliveries that took the lease. */
  attempts: number;
  /** Takes since the holder last recorded progress: the count that exhausts a step. */
  stalled: number;
  /** Times the step's message reached its dead-letter queue. */
  deadLetters?: number;
  /** When the reconciler last released a lapsed lease and sent the step again (steps/step.ts). */
  redrivenAt?: string;
}

/** A holder renews its lease this often: three beats to a lease, so one missed beat is no loss. */
export const heartbeatMs = (leaseMs: number) => leaseMs / 3;

/** Whether a lease document shows a live holder. */
export const leaseLive = (doc: Pick<Stored<LeaseFields>, "value" | "ageMs">, leaseMs: number) =>
  doc.value.lease !== undefined && doc.ageMs < leaseMs;

/** An attempt id: eight hex characters, unique enough within one step. */
export const newAttempt = () => crypto.randomUUID().slice(0, 8);

export type Acquired<T extends LeaseFields> =
  | { kind: "held"; lease: Lease<T> }
  | { kind: "busy"; doc: Stored<T> }
  | { kind: "finished"; doc: Stored<T> };

export interface AcquireOptions<T extends LeaseFields> {
  /** The document to create when there is none; undefined: do not create (the step is unknown). */
  initial?: () => T;
  /** A document the step has settled: nothing to take. */
  finished: (value: T) => boolean;
  /** What else the take writes (the child records which worker took it). */
  take?: (value: T) => T;
  leaseMs: number;
  log: Logger;
}

/** Takes the lease on `key` for `attempt`, creating the document if needed. */
export async function leaseAcquire<T extends LeaseFields>(
  store: JsonStore,
  key: string,
  attempt: string,
  o: AcquireOptions<T>,
): Promise<Acquired<T> | undefined> {
  let found: Acquired<T> | undefined;
  let taken: T | undefined;
  let doc: Stored<T> | undefined;
  try {
    doc = await store.update<T>(
      key,
      (value, current) => {
        taken = undefined;
        if (o.finished(value)) found = { kind: "finished", doc: current };
        else if (value.lease && value.lease.attempt !== attempt && leaseLive(current, o.leaseMs))
          found = { kind: "busy", doc: current };
        else {
          found = undefined;
          const next: T = {
            ...value,
            lease: { attempt, renewedAt: new Date().toISOString() },
            attempts: (value.attempts ?? 0) + 1,
            stalled: (value.stalled ?? 0) + 1,
          };
          taken = o.take ? o.take(next) : next;
        }
        return taken;
      },
      o.initial ? { initial: o.initial } : {},
    );
  } catch (err) {
    // Taken and retaken under us through every attempt: someone is on it.
    if (!(err instanceof ContentionError)) throw err;
    const now = await store.get<T>(key);
    return now ? { kind: "busy", doc: now } : undefined;
  }
  if (!doc) return undefined;
  if (found) return found;
  if (!taken) return undefined;
  return { kind: "held", lease: new Lease(store, key, taken, doc.etag, attempt, o.leaseMs, o.log) };
}

/** A held lease: serialized conditional writes of its document, and the heartbeat. */
export class Lease<T extends LeaseFields> {
  private readonly lostController = new AbortController();
  private timer: ReturnType<typeof setInterval> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: JsonStore,
    readonly key: string,
    private current: T,
    private etag: string,
    readonly attempt: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  get value(): T {
    return this.current;
  }

  /** Fires when a write finds the document moved: another attempt holds the step now. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  /** Renews the lease every third of its length until `stop()`. */
  beat(): void {
    this.timer ??= setInterval(() => {
      this.update((v) => ({
        ...v,
        lease: { attempt: this.attempt, renewedAt: new Date().toISOString() },
      })).catch((err) => {
        // A missed beat is retried at the next one; a lost lease has already fired `lost`.
        if (!(err instanceof ConflictError))
          this.log.warn("heartbeat failed", { key: this.key, message: (err as Error).message });
      });
    }, heartbeatMs(this.leaseMs));
  }

  /** Applies `change` as one conditional write, after any write already queued. */
  update(change: (value: T) => T): Promise<T> {
    const run = async () => {
      if (this.lost.aborted) throw new ConflictError(`the lease on ${this.key} was lost`);
      const next = change(this.current);
      try {
        this.etag = await this.store.replace(this.key, next, this.etag);
      } catch (err) {
        if (err instanceof ConflictError) this.lostController.abort();
        throw err;
      }
      this.current = next;
      return next;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** Writes the document a last time without the lease, so a successor may take it at once. */
  release(change: (value: T) => T = (v) => v): Promise<T> {
    this.stop();
    return this.update((v) => {
      const { lease: _held, ...rest } = change(v);
      return rest as T;
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
