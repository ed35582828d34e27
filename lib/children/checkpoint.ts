// The child's checkpoint writer. Results accumulate as "pending" (a bitmap of the rows found and
// their outcome lines) since the last seal. A checkpoint writes the pending results as one tail
// object, or, once they pass SEAL_BYTES, as a sealed segment that is never rewritten, and then
// commits the state (one conditional write, the commit) and its progress marker. So a checkpoint
// costs at most SEAL_BYTES whatever the position in the shard, and a child holds at most that
// much of results in memory. A shard that finds little has one tail and no segments: the merge
// reads one object.
import { newBitmap, type RoaringBitmap32, serializeBitmap } from "../bitmap/valid-bitmap.ts";
import type { Context } from "../context.ts";
import { type ChildRef, paths } from "../jobs/paths.ts";
import type { Lease } from "../leases/lease.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { TaskOutcome } from "../operations/types.ts";
import { ErrorTally, writeErrorMarkers } from "./errors.ts";
import { encodeChildOutput, outcomeLine } from "./output.ts";
import { progressMarkerKey } from "./progress.ts";
import type { ChildState, ChildStatus, Counts } from "./state.ts";

/** Pending results past this size are sealed into a segment of their own. */
export const SEAL_BYTES = 1024 * 1024;

export interface Pending {
  bitmap: RoaringBitmap32;
  outcomes: string;
}

export class CheckpointWriter {
  private pending: Pending;
  private readonly counts: Counts;
  private readonly errors: ErrorTally;

  constructor(
    private readonly ctx: Pick<Context, "store" | "log">,
    private readonly ref: ChildRef,
    private readonly lease: Lease<ChildState>,
    resumed: Pending | undefined,
  ) {
    this.pending = resumed ?? { bitmap: newBitmap(), outcomes: "" };
    const s = lease.value;
    this.counts = { found: s.found, succeeded: s.succeeded, failed: s.failed, missing: s.missing };
    this.errors = new ErrorTally(s.errors);
  }

  /** The size of the results since the last checkpoint (their outcome lines). */
  get pendingBytes(): number {
    return this.pending.outcomes.length;
  }

  /** Records one row's outcome; `certainMiss`: absent here, and no other endpoint holds its bucket. */
  add(row: TaskRow, outcome: TaskOutcome, certainMiss: boolean): void {
    if (outcome.kind === "missing") {
      if (certainMiss) this.counts.missing++;
      return;
    }
    this.pending.bitmap.add(row.index);
    this.counts.found++;
    this.counts[outcome.kind]++;
    this.pending.outcomes += outcomeLine(row.index, outcome);
    if (outcome.kind === "failed") this.errors.add(row, outcome);
  }

  /**
   * Writes the results of the rows before `nextRow` and commits the state. `release` gives the
   * lease up with it (a handover, or a settled child). ConflictError: the lease was lost.
   */
  async commit(
    status: ChildStatus,
    nextRow: number,
    {
      release = false,
      patch = {},
      progressed: moved = false,
    }: { release?: boolean; patch?: Partial<ChildState>; progressed?: boolean } = {},
  ): Promise<ChildState> {
    const { store } = this.ctx;
    const previous = this.lease.value;
    const { endpointId, shard } = this.ref;
    let segments = previous.segments;
    let tail: string | undefined;
    const hasPending = !this.pending.bitmap.isEmpty || this.pending.outcomes.length > 0;
    if (hasPending) {
      const body = encodeChildOutput(serializeBitmap(this.pending.bitmap), this.pending.outcomes);
      if (body.length >= SEAL_BYTES) {
        const key = segmentKey(this.ref, this.lease.attempt, nextRow);
        await store.putBytes(key, body);
        segments = [...segments, key];
        this.pending.bitmap.dispose();
        this.pending = { bitmap: newBitmap(), outcomes: "" };
      } else {
        tail = tailKey(this.ref, this.lease.attempt, nextRow);
        await store.putBytes(tail, body);
      }
    }
    const progressed = moved || nextRow > previous.nextRow || status !== "running";
    const change = (v: ChildState): ChildState => {
      const next: ChildState = {
        ...v,
        ...this.counts,
        errors: this.errors.value,
        ...patch,
        status,
        nextRow,
        segments,
        updatedAt: new Date().toISOString(),
        ...(progressed ? { stalled: 0 } : {}),
      };
      if (tail) next.tail = tail;
      else delete next.tail;
      next.marker = progressMarkerKey(this.ref, next);
      return next;
    };
    const changedGroups = this.errors.changedGroups();
    const committed = release ? await this.lease.release(change) : await this.lease.update(change);
    if (committed.marker) await store.putBytes(committed.marker, "", "text/plain");
    if (committed.errors)
      await writeErrorMarkers(
        store,
        this.ref,
        endpointId,
        shard,
        committed.errors,
        previous.errors,
        changedGroups,
      );
    this.errors.written(changedGroups);
    // What the committed state no longer names is garbage; a failed removal leaves only garbage.
    for (const stale of [previous.marker, previous.tail])
      if (stale && stale !== committed.marker && stale !== committed.tail)
        await store.delete(stale).catch((err) =>
          this.ctx.log.debug("removing a stale child object failed", {
            key: stale,
            message: (err as Error).message,
            endpoint: endpointId,
            shard,
          }),
        );
    return committed;
  }

  dispose(): void {
    this.pending.bitmap.dispose();
  }
}

const tailKey = (r: ChildRef, attempt: string, row: number) =>
  paths.childTail(r, r.endpointId, r.shard, attempt, row);
const segmentKey = (r: ChildRef, attempt: string, row: number) =>
  paths.childSegment(r, r.endpointId, r.shard, attempt, row);
