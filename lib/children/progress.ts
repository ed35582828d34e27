// Progress markers: after each checkpoint a child writes an empty object whose name is that
// checkpoint, and removes the one before. Poll sums every child's progress, and the merge finds
// every child's output, from one listing per 1,000 children instead of one read per child:
//   progress/<endpoint>/<shard>/<ranTo>.<status>.<tail attempt>.<segments>.<found>.<succeeded>.<failed>.<missing>.<done>
// (`done`: the shard's rows this child has been through, found or not).
// A crash between writing one marker and removing its predecessor leaves both; the one with the
// furthest `ranTo` (a settled one on a tie) is the latest, since markers follow the commits.
import { type JobRef, paths } from "../jobs/paths.ts";
import type { JsonStore } from "../store/json-store.ts";
import { type ChildState, type ChildStatus, type Counts, childSettled } from "./state.ts";

export interface ChildProgress extends Counts {
  endpointId: string;
  shard: number;
  /** Rows before this one ran and are in the child's output. */
  ranTo: number;
  status: ChildStatus;
  /** The attempt whose tail object (`tail-<ranTo>`) holds the rows since the last seal. */
  tailAttempt: string | undefined;
  /** Sealed segments before the tail (their keys are in the child's state). */
  segments: number;
  /** Rows of the shard this child has been through. */
  done: number;
}

const STATUSES: readonly ChildStatus[] = ["running", "done", "stopped", "exhausted"];
const MARKER =
  /^([a-z0-9-]+)\/(\d{8})\/(\d{10})\.([a-z]+)\.([0-9a-f]+|-)\.(\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

/** The attempt folder of an output key. */
const attemptOf = (key: string) => key.split("/").at(-2);

/** The marker that names `s`'s checkpoint. */
export function progressMarkerKey(ref: JobRef, s: ChildState): string {
  const facts = [
    s.status,
    s.tail ? attemptOf(s.tail) : "-",
    s.segments.length,
    s.found,
    s.succeeded,
    s.failed,
    s.missing,
    s.nextRow - s.span.firstRow,
  ].join(".");
  return paths.progressMarker(ref, s.endpointId, s.shard, s.nextRow, facts);
}

/** Parses a marker's name (relative to the job's progress prefix). */
export function parseProgressMarker(name: string): ChildProgress | undefined {
  const m = MARKER.exec(name);
  if (!m) return undefined;
  const [, endpointId = "", shard, ranTo, status, tail, segments, found, succeeded, failed, missing, done] =
    m;
  if (!STATUSES.includes(status as ChildStatus)) return undefined;
  return {
    endpointId,
    shard: Number(shard),
    ranTo: Number(ranTo),
    status: status as ChildStatus,
    tailAttempt: tail === "-" ? undefined : tail,
    segments: Number(segments),
    found: Number(found),
    succeeded: Number(succeeded),
    failed: Number(failed),
    missing: Number(missing),
    done: Number(done),
  };
}

/** Whether marker `a` is later than `b` for the same child. */
function later(a: ChildProgress, b: ChildProgress): boolean {
  if (a.ranTo !== b.ranTo) return a.ranTo > b.ranTo;
  return childSettled(a) && !childSettled(b);
}

export const childKey = (endpointId: string, shard: number) => `${endpointId}/${shard}`;

/** Every child's latest progress, by `childKey`. */
export async function listProgress(store: JsonStore, ref: JobRef): Promise<Map<string, ChildProgress>> {
  const prefix = paths.progress(ref);
  const out = new Map<string, ChildProgress>();
  for await (const key of store.list(prefix)) {
    const p = parseProgressMarker(key.slice(prefix.length));
    if (!p) continue;
    const id = childKey(p.endpointId, p.shard);
    const seen = out.get(id);
    if (!seen || later(p, seen)) out.set(id, p);
  }
  return out;
}
