// A child is one shard on one endpoint. Its state document is its checkpoint and its lease:
// the next row to run, the counts so far, the output objects that hold the results of the rows
// before it, and which attempt holds the lease. The layout of one child:
//   children/<endpoint>/<shard>.json                  this state (the lease: see leases/lease.ts)
//   outputs/<endpoint>/<shard>/<attempt>/seg-<row>    sealed output segments (children/output.ts)
//   outputs/<endpoint>/<shard>/<attempt>/tail-<row>   the rows since the last seal
//   progress/<endpoint>/<shard>/<row>.<facts>         the last checkpoint, as a name (progress.ts)
import type { ChildRef } from "../jobs/paths.ts";
import type { LeaseFields } from "../leases/lease.ts";
import type { ErrorGroup } from "./errors.ts";

/** The rows of one shard and where they are in the manifest. */
export interface ChildSpan {
  firstRow: number;
  rowCount: number;
  startByte: number;
  endByte: number;
}

/**
 * running: rows before nextRow ran; done: every row ran; stopped: the job stopped running (rows
 * at or past nextRow are not reported); exhausted: the child could not go on, and rows at or
 * past nextRow fail with `exhausted`.
 */
export type ChildStatus = "running" | "done" | "stopped" | "exhausted";

export interface Counts {
  found: number;
  succeeded: number;
  failed: number;
  /** Rows absent from this endpoint whose bucket no other endpoint holds: certain 404 failures. */
  missing: number;
}

export interface ChildState extends LeaseFields, Counts {
  schema: 2;
  jobId: string;
  endpointId: string;
  shard: number;
  span: ChildSpan;
  status: ChildStatus;
  /** Rows before this one have run and their results are in `segments` and `tail`. */
  nextRow: number;
  /** Where row `nextRow` starts in the manifest, so a resumed child reads on from there. */
  nextByte?: number;
  /** Sealed output segments, in row order. */
  segments: string[];
  /** The output of the rows since the last seal, when there are any to keep. */
  tail?: string;
  /** The progress marker that names this checkpoint. */
  marker?: string;
  /** Why an exhausted child stopped: the failed rows' code and message. */
  exhausted?: { code: string; message: string };
  /** Failed tasks by `<http>.<code>`, with sample keys (children/errors.ts). */
  errors?: Record<string, ErrorGroup>;
  /** The workers (process or Lambda container ids) that took this child, latest last. */
  workers?: string[];
  /** When this endpoint was first seen down, for an outage that spans a handover (epoch ms). */
  downSince?: number;
  startedAt: string;
  updatedAt: string;
}

export const childSettled = (s: Pick<ChildState, "status"> | undefined) =>
  s !== undefined && s.status !== "running";

/** A child's first state, before any delivery took its lease. */
export function initialChildState(ref: ChildRef, span: ChildSpan): ChildState {
  const now = new Date().toISOString();
  return {
    schema: 2,
    jobId: ref.jobId,
    endpointId: ref.endpointId,
    shard: ref.shard,
    span,
    status: "running",
    nextRow: span.firstRow,
    found: 0,
    succeeded: 0,
    failed: 0,
    missing: 0,
    segments: [],
    attempts: 0,
    stalled: 0,
    startedAt: now,
    updatedAt: now,
  };
}

export const shardEnd = (s: Pick<ChildState, "span">) => s.span.firstRow + s.span.rowCount;
