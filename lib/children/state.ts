// A child is one shard on one endpoint. Its state document is its checkpoint: the next row to
// run, the counts so far, and whether it finished ("done") or stopped early ("stopped", when the
// job was cancelled or failing). The layout of one child:
//   children/<endpoint>/<shard>.json                      this state
//   children/<endpoint>/<shard>/<attempt>/valid.bitmap    rows found on the endpoint
//   children/<endpoint>/<shard>/<attempt>/{succeeded,failed}.csv   outcomes, by row index
import type { JobRef } from "../jobs/paths.ts";

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
