// The dispatch's Step (steps/step.ts). Its document is dispatch.json (dispatch.ts), its lease the
// one planning holds. It is settled once every child message of the started job was sent. A job
// whose dispatch died (while planning, or while sending the child messages of an Active job) is
// dispatched again after two lease periods (the job record is young before dispatch.json exists);
// one whose dispatch was taken `maxAttempts` times without progress, or whose message died that
// often, fails: PreparationFailed (Failing, for an Active job whose children may have started).

import { type JobRef, paths } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import { JobStatusError, jobMarkFailed, jobMarkFailing } from "../jobs/transitions.ts";
import type { GiveUp, Step } from "../steps/step.ts";
import { type DispatchState, initialDispatchState } from "./dispatch.ts";

export const dispatchStep: Step<JobRef, DispatchState> = {
  name: "dispatch",
  failureCode: "PreparationFailed",
  key: (ref) => paths.dispatchState(ref),
  initial: () => initialDispatchState(),
  settled: (s) => s.started === true,
  graceMs: (leaseMs) => 2 * leaseMs,
  send: (deps, ref) =>
    deps.queue.send({ v: 1, type: "dispatch", accountId: ref.accountId, jobId: ref.jobId }),
  giveUp: async (deps, ref, _doc, why) => {
    const failureReasons = [{ FailureCode: "PreparationFailed", FailureReason: reasonOf(why) }];
    try {
      const job = (await jobGet(deps.store, ref))?.value;
      if (job?.status === "Active") await jobMarkFailing(deps.store, ref, { failureReasons });
      else await jobMarkFailed(deps.store, ref, { failureReasons });
    } catch (err) {
      // It moved on meanwhile (cancelled, or failed by another poll): nothing to give up.
      if (!(err instanceof JobStatusError)) throw err;
    }
  },
};

const reasonOf = (why: GiveUp) =>
  why.kind === "exhausted"
    ? `the manifest could not be prepared in ${why.takes} attempts`
    : `the dispatch message reached the dead-letter queue ${why.deadLetters} times`;
