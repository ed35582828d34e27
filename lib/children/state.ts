// A child is one shard on one endpoint. Its state document is its checkpoint: the next row to
// run, the counts so far, and whether it finished ("done") or stopped early ("stopped", when the
// job was cancelled or failing). The layout of one child:
//   children/<endpoint>/<shard>.json              this state
//   children/<endpoint>/<shard>/<attempt>/output  valid bitmap + outcome lines (children/output.ts)
//   settled/<endpoint>/<shard>.<facts>            written once the state is settled; the key name
//                                                 carries the final state, so poll and merge learn
//                                                 every settled child from one listing per 1,000

import { type JobRef, paths } from "../jobs/paths.ts";
import type { JsonStore } from "../store/json-store.ts";

export interface ChildState {
  schema: 1;
  jobId: string;
  endpointId: string;
  shard: number;
  status: "running" | "done" | "stopped";
  /** Rows before this one have run and their results are in the parts. */
  nextRow: number;
  succeeded: number;
  failed: number;
  found: number;
  /** Rows absent from this endpoint whose bucket no other endpoint holds: certain 404 failures. */
  missing: number;
  /**
   * The delivery attempt whose bitmap and parts hold the results of the rows before nextRow.
   * Each delivery writes under its own attempt and commits by the conditional state write, so
   * two concurrent deliveries never mix their outputs.
   */
  attempt?: string;
  startedAt: string;
  updatedAt: string;
}

export const childSettled = (s: ChildState | undefined) => s?.status === "done" || s?.status === "stopped";

export interface ChildRef extends JobRef {
  endpointId: string;
  shard: number;
}

/** What a settled child's marker says: enough for progress and for the merge to read its output. */
export type SettledChild = Pick<
  ChildState,
  "endpointId" | "shard" | "nextRow" | "succeeded" | "failed" | "found" | "missing"
> & { status: "done" | "stopped"; attempt: string };

/** Writes the marker of a settled state (idempotent: the same state gives the same key). */
export async function markSettled(store: JsonStore, ref: JobRef, s: ChildState): Promise<void> {
  if (!childSettled(s)) return;
  const facts = [s.status, s.nextRow, s.attempt ?? "-", s.found, s.succeeded, s.failed, s.missing ?? 0].join(
    ".",
  );
  await store.putBytes(paths.settledMarker(ref, s.endpointId, s.shard, facts), "", "text/plain");
}

/** Every settled child of a job, by `${endpointId}/${shard}`. */
export async function listSettled(store: JsonStore, ref: JobRef): Promise<Map<string, SettledChild>> {
  const prefix = paths.settled(ref);
  const out = new Map<string, SettledChild>();
  for await (const key of store.list(prefix)) {
    const m = /^([a-z0-9-]+)\/(\d+)\.(done|stopped)\.(\d+)\.([^.]+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(
      key.slice(prefix.length),
    );
    if (!m) continue;
    const [, endpointId = "", shard, status, nextRow, attempt = "-", found, succeeded, failed, missing] = m;
    out.set(`${endpointId}/${Number(shard)}`, {
      endpointId,
      shard: Number(shard),
      status: status as SettledChild["status"],
      nextRow: Number(nextRow),
      attempt,
      found: Number(found),
      succeeded: Number(succeeded),
      failed: Number(failed),
      missing: Number(missing),
    });
  }
  return out;
}
