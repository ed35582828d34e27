// The Step: what every durable step of a job has, declared once and asked the same questions by
// the reconciler (reconcile/reconcile.ts) and the dead-letter consumer (reconcile/dead-letter.ts).
// Dispatch, child, merge and notification each declare theirs next to their code:
//
//   its state document   `key(ref)`, `initial(ref)`; the lease fields of leases/lease.ts in it
//   its lease            taken by a delivery, renewed every third of the lease (leases/lease.ts);
//                        liveness is the document's age on the store's clock
//   settled              `settled(state)`: nothing left to do (`onSettled` finishes what a
//                        delivery that died right after settling left undone)
//   stalled              no live lease, and the document unwritten for `graceMs` (a lease period,
//                        two for dispatch, whose job record is young before its document exists)
//   re-driven            the dead lease released in one conditional write that also restarts the
//                        clock (so at most once per grace period, however many polls look), then
//                        `send`: its message again
//   given up             after `maxAttempts` takes without progress (`stalled`), or its message
//                        dead-lettered `maxAttempts` times: `giveUp`, with the step's failure code
//
// The verbs below are the whole machinery; each has a unit test on the in-memory fakes.

import { type LeaseFields, leaseLive } from "../leases/lease.ts";
import type { JsonStore, Stored } from "../store/json-store.ts";
import type { Logger } from "../util/logger.ts";
import type { Queue } from "./queue.ts";

/** What the verbs need: the store, the queue, a logger and the deployment's step settings. */
export interface StepDeps {
  store: JsonStore;
  queue: Queue;
  log: Logger;
  settings: { leaseSeconds: number; maxAttempts: number };
}

/** Why a step is given up. */
export type GiveUp =
  | { kind: "exhausted"; takes: number }
  | { kind: "dead-lettered"; deadLetters: number; receives: number };

export interface Step<R, S extends LeaseFields> {
  readonly name: "dispatch" | "child" | "merge" | "notification";
  /** The failure code a given-up step reports (on the job, or on its rows). */
  readonly failureCode: string;
  key(ref: R): string;
  initial(ref: R): S;
  settled(state: S, ref: R): boolean;
  /** What a settled step's last delivery may have left undone (a marker, the job's last status). */
  onSettled?(deps: StepDeps, ref: R, doc: Stored<S>): Promise<void>;
  /** How long a document without a live lease stays untouched before the step is re-driven. */
  graceMs(leaseMs: number): number;
  /** Sends the step's work (its message) again. */
  send(deps: StepDeps, ref: R, state: S): Promise<void>;
  /** Settles the step for good; `doc` is the document as last read (conditional writes use it). */
  giveUp(deps: StepDeps, ref: R, doc: Stored<S>, why: GiveUp): Promise<void>;
}

export type Verdict = "settled" | "live" | "waiting" | "give-up" | "redrive";

export const leaseMsOf = (deps: Pick<StepDeps, "settings">) => deps.settings.leaseSeconds * 1000;

/** What the reconciler makes of a step's document. */
export function verdictOf<R, S extends LeaseFields>(
  step: Step<R, S>,
  deps: Pick<StepDeps, "settings">,
  ref: R,
  doc: Stored<S>,
): Verdict {
  const leaseMs = leaseMsOf(deps);
  if (step.settled(doc.value, ref)) return "settled";
  if (leaseLive(doc, leaseMs)) return "live";
  if (doc.ageMs < step.graceMs(leaseMs)) return "waiting";
  return doc.value.stalled >= deps.settings.maxAttempts ? "give-up" : "redrive";
}

/**
 * The reconciler's one question about a step: reads its document and acts on the verdict (a
 * settled step's loose ends, a stalled one re-driven, an exhausted one given up). A step without a
 * document is started once `missingAgeMs` (how long it has been due) reaches its grace: the
 * document is created and, if this call created it, the message sent.
 */
export async function reconcileStep<R, S extends LeaseFields>(
  deps: StepDeps,
  step: Step<R, S>,
  ref: R,
  o: { missingAgeMs?: number } = {},
): Promise<Verdict> {
  const doc = await deps.store.get<S>(step.key(ref));
  if (!doc) {
    if ((o.missingAgeMs ?? Number.POSITIVE_INFINITY) < step.graceMs(leaseMsOf(deps))) return "waiting";
    const created = await deps.store.createOrGet<S>(step.key(ref), step.initial(ref));
    if (created.created) await step.send(deps, ref, created.value);
    return created.created ? "redrive" : "waiting";
  }
  const verdict = verdictOf(step, deps, ref, doc);
  if (verdict === "settled") await step.onSettled?.(deps, ref, doc);
  else if (verdict === "give-up")
    await step.giveUp(deps, ref, doc, { kind: "exhausted", takes: doc.value.stalled });
  else if (verdict === "redrive") await redrive(deps, step, ref, doc);
  return verdict;
}

/**
 * Releases a lapsed lease and sends the step's message again. The release is one conditional write
 * that restarts the document's clock: of several polls looking at once, one re-drives; the others
 * lose the race and leave it. False when the document moved meanwhile.
 */
export async function redrive<R, S extends LeaseFields>(
  deps: StepDeps,
  step: Step<R, S>,
  ref: R,
  doc: Stored<S>,
): Promise<boolean> {
  const { lease: _dead, ...released } = doc.value;
  const next = { ...released, redrivenAt: new Date(deps.store.serverNow()).toISOString() } as S;
  if (!(await deps.store.replaceIfUnchanged(step.key(ref), next, doc.etag))) return false;
  deps.log.info(`${step.name} re-driven`, {
    key: step.key(ref),
    attempts: doc.value.attempts,
    stalled: doc.value.stalled,
  });
  await step.send(deps, ref, next);
  return true;
}

/**
 * A message of the step reached its dead-letter queue: counted on the step's document; sent again,
 * or, the `maxAttempts`-th time, the step given up. A settled step, or one a live delivery holds,
 * lost only a spare copy: nothing to do. Answers what was done.
 */
export async function deadLettered<R, S extends LeaseFields>(
  deps: StepDeps,
  step: Step<R, S>,
  ref: R,
  receives: number,
): Promise<"spare" | "sent" | "given-up"> {
  const leaseMs = leaseMsOf(deps);
  let spare = false;
  const doc = await deps.store.update<S>(
    step.key(ref),
    (s, d) => {
      spare = step.settled(s, ref) || leaseLive(d, leaseMs);
      return spare ? undefined : { ...s, deadLetters: (s.deadLetters ?? 0) + 1 };
    },
    { initial: () => step.initial(ref) },
  );
  if (!doc || spare) return "spare";
  const deadLetters = doc.value.deadLetters ?? 0;
  if (deadLetters >= deps.settings.maxAttempts) {
    await step.giveUp(deps, ref, doc, { kind: "dead-lettered", deadLetters, receives });
    return "given-up";
  }
  await step.send(deps, ref, doc.value);
  return "sent";
}

/**
 * A delivery found the step held by someone else. A holder that missed a heartbeat (its document
 * older than a third of the lease, and a second) is probably gone: the delivery comes back just
 * after its lease ends, rather than wait for the reconciler. Answers the delay in seconds, or
 * undefined for a live holder (the delivery was a duplicate and is dropped).
 */
export function comeBackAfterSeconds(
  doc: Pick<Stored<LeaseFields>, "ageMs">,
  leaseMs: number,
): number | undefined {
  if (doc.ageMs <= leaseMs / 3 + 1000) return undefined;
  return Math.ceil((leaseMs - doc.ageMs) / 1000) + 1;
}
