// The child's Step (steps/step.ts): one shard on one endpoint. Its document is the child state
// (state.ts), its lease the one a delivery takes (resume.ts). A child nobody is running (its
// worker crashed or was killed, or its message reached the dead-letter queue) is sent again; once
// it has been taken `maxAttempts` times without progress, or its message died that often, it is
// given up: settled as exhausted, the rows it did not run become failed report rows naming the
// endpoint and why, and the job notes the shard in its FailureReasons (jobs/transitions.ts).
import { type ChildRef, paths } from "../jobs/paths.ts";
import { jobEvent } from "../jobs/store.ts";
import { EXHAUSTED_CODE, jobNoteExhausted } from "../jobs/transitions.ts";
import type { ChildMessage } from "../steps/messages.ts";
import type { GiveUp, Step, StepDeps } from "../steps/step.ts";
import type { Stored } from "../store/json-store.ts";
import { progressMarkerKey } from "./progress.ts";
import { type ChildSpan, type ChildState, childSettled, initialChildState, shardEnd } from "./state.ts";

/** A child as its step knows it: which shard on which endpoint, its job's priority, its rows. */
export interface ChildStepRef extends ChildRef {
  priority: number;
  /** The shard's rows: known from its message; a child found by listing has its state instead. */
  span?: ChildSpan;
}

export const childStepRef = (msg: ChildMessage): ChildStepRef => ({
  accountId: msg.accountId,
  jobId: msg.jobId,
  endpointId: msg.endpointId,
  shard: msg.shard,
  priority: msg.priority,
  span: msg.span,
});

export const childStep: Step<ChildStepRef, ChildState> = {
  name: "child",
  failureCode: EXHAUSTED_CODE,
  key: (ref) => paths.childState(ref, ref.endpointId, ref.shard),
  initial: (ref) => {
    // Only a message creates a child; every message carries its span.
    if (!ref.span) throw new TypeError(`child ${ref.endpointId}/${ref.shard} has no state and no span`);
    return initialChildState(ref, ref.span);
  },
  settled: (s) => childSettled(s),
  // Settled, but its progress marker was never written (the delivery died right after the commit).
  onSettled: async (deps, _ref, doc) => {
    if (doc.value.marker) await deps.store.putBytes(doc.value.marker, "", "text/plain");
  },
  graceMs: (leaseMs) => leaseMs,
  send: (deps, ref, s) =>
    deps.queue.send({
      v: 1,
      type: "child",
      accountId: ref.accountId,
      jobId: ref.jobId,
      shard: s.shard,
      endpointId: s.endpointId,
      priority: ref.priority,
      span: s.span,
    }),
  giveUp: (deps, ref, doc, why) => childExhaust(deps, ref, doc, reasonOf(doc.value, why)),
};

function reasonOf(s: ChildState, why: GiveUp): string {
  return why.kind === "exhausted"
    ? `not completed after ${why.takes} attempts without progress (shard ${s.shard})`
    : `the message of shard ${s.shard} reached the dead-letter queue ${why.deadLetters} times (${why.receives} receives the last time)`;
}

/**
 * Settles a child as exhausted: the rows from its last checkpoint on fail with
 * AttemptsExhausted. Its counts take them as failed, so progress and the failure threshold see
 * them at once. One conditional write of the child's state: if it moved, the next poll looks again.
 */
async function childExhaust(
  deps: StepDeps,
  ref: ChildRef,
  doc: Stored<ChildState>,
  message: string,
): Promise<void> {
  const s = doc.value;
  const { lease: _gone, ...rest } = s;
  const next: ChildState = {
    ...rest,
    status: "exhausted",
    failed: s.failed + (shardEnd(s) - s.nextRow),
    exhausted: { code: EXHAUSTED_CODE, message },
    updatedAt: new Date().toISOString(),
  };
  next.marker = progressMarkerKey(ref, next);
  if (
    !(await deps.store.replaceIfUnchanged(paths.childState(ref, ref.endpointId, ref.shard), next, doc.etag))
  )
    return;
  await deps.store.putBytes(next.marker, "", "text/plain");
  if (s.marker && s.marker !== next.marker) await deps.store.delete(s.marker);
  deps.log.warn("child exhausted", { jobId: ref.jobId, endpoint: ref.endpointId, shard: ref.shard, message });
  await jobEvent(deps.store, ref, "child-exhausted", { endpoint: ref.endpointId, shard: ref.shard, message });
  await jobNoteExhausted(deps.store, ref, ref.endpointId, message);
  await deps.queue.send({ v: 1, type: "poll", accountId: ref.accountId, jobId: ref.jobId, chain: false });
}
