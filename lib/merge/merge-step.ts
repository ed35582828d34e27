// The merge's Step (steps/step.ts). Its document is merge.json (merge-state.ts), its lease the one
// the merge holds while it writes the report. Once every child settled the reconciler creates the
// document and sends the first merge message; a merge nobody runs is sent again after a lease
// period; one that committed its counts (`done`) but died before the final status is finished
// from them, without a re-run; one taken `maxAttempts` times without progress, or whose message
// died that often, fails the job: ReportFailed.
import type { JobRecord } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { JobStatusError, jobMarkFailed } from "../jobs/transitions.ts";
import { pendingClear } from "../steps/priority.ts";
import type { GiveUp, Step } from "../steps/step.ts";
import { initialMergeState, type MergeState, mergeFinish } from "./merge-state.ts";

type MergeRef = Pick<JobRecord, "accountId" | "jobId" | "status" | "priority">;

export const mergeStep: Step<MergeRef, MergeState> = {
  name: "merge",
  failureCode: "ReportFailed",
  key: (job) => paths.mergeState(job),
  initial: () => initialMergeState(),
  settled: (s) => s.done !== undefined,
  onSettled: async (deps, job, doc) => {
    if (doc.value.done) await mergeFinish(deps, job, doc.value.done);
  },
  graceMs: (leaseMs) => leaseMs,
  send: (deps, job) => deps.queue.send({ v: 1, type: "merge", accountId: job.accountId, jobId: job.jobId }),
  giveUp: async (deps, job, _doc, why) => {
    try {
      await jobMarkFailed(deps.store, job, {
        failureReasons: [{ FailureCode: "ReportFailed", FailureReason: reasonOf(why) }],
      });
    } catch (err) {
      if (!(err instanceof JobStatusError)) throw err;
    }
    await pendingClear(deps, job, job.priority);
  },
};

const reasonOf = (why: GiveUp) =>
  why.kind === "exhausted"
    ? `the completion report could not be written in ${why.takes} attempts`
    : `the merge message reached the dead-letter queue ${why.deadLetters} times`;
