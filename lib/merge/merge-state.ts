// merge.json: the merge's lease (leases/lease.ts), its handover checkpoint, and what it
// committed. A merge whose budget runs out at a shard boundary saves its writers (open uploads,
// parts, MD5 states; the unsent part bytes go to merge/<attempt>/carry-*) and the next shard, and
// a fresh merge invocation carries on. Once the report is written the merge records its counts
// here before the final status, so a crash in between is finished by poll, without a re-run.
import type { Context } from "../context.ts";
import type { WriterState } from "../endpoints/fanout-writer.ts";
import type { JobRecord, JobStatus } from "../jobs/model.ts";
import type { JobRef } from "../jobs/paths.ts";
import { jobMarkCancelled, jobMarkComplete, jobMarkFailed } from "../jobs/transitions.ts";
import type { LeaseFields } from "../leases/lease.ts";
import type { ReportSummary } from "../report/report-summary.ts";
import { pendingClear } from "../steps/priority.ts";

export interface MergeCounts {
  succeeded: number;
  failed: number;
}

export interface MergeCheckpoint {
  /** The first shard not yet merged. */
  nextShard: number;
  counts: MergeCounts;
  /** The failed rows so far, grouped, and the tasks by endpoint (report-summary.ts). */
  summary: ReportSummary;
  /** What the operation sums over the rows, so far (Operation.tally: the survey's). */
  tally?: unknown;
  writers: Partial<Record<"succeeded" | "failed", { state: WriterState; carry: string }>>;
  /** Report gateways lost so far (their outage outlasted the window, or they refused), with why. */
  lost?: Record<string, string>;
}

export interface MergeState extends LeaseFields {
  checkpoint?: MergeCheckpoint;
  /** The report is written: the job's final counts, and the report gateways it could not reach. */
  done?: { counts: MergeCounts; total: number; lost?: Record<string, string> };
}

export const initialMergeState = (): MergeState => ({ attempts: 0, stalled: 0 });

export const FINAL_STATUS: Partial<Record<JobStatus, typeof jobMarkComplete>> = {
  Completing: jobMarkComplete,
  Cancelling: jobMarkCancelled,
  Failing: jobMarkFailed,
};

/** Moves a closing job whose report is written to its final status. */
export async function mergeFinish(
  ctx: Pick<Context, "store">,
  job: Pick<JobRecord, "accountId" | "jobId" | "status" | "priority">,
  done: NonNullable<MergeState["done"]>,
): Promise<void> {
  const mark = FINAL_STATUS[job.status];
  const ref: JobRef = job;
  const failureReasons = Object.entries(done.lost ?? {}).map(([endpoint, why]) => ({
    FailureCode: "ReportIncomplete",
    FailureReason: `the report was not written to ${endpoint}: ${why}`.slice(0, 256),
  }));
  if (mark)
    await mark(ctx.store, ref, {
      progress: { total: done.total, ...done.counts },
      ...(failureReasons.length > 0 ? { failureReasons } : {}),
    });
  await pendingClear(ctx, ref, job.priority);
}
