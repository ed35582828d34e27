// What the reconciler does about a child nobody is running: one whose lease expired (its worker
// crashed or was killed), or whose message reached the dead-letter queue. It sends the child's
// message again, and once the child has been taken `maxAttempts` times without progress (or its
// message died that often) it settles the child as exhausted: the rows it did not run become
// failed report rows naming the endpoint and the attempts. Each change is one conditional write
// of the child's state, which also restarts the lease clock, so a child is re-driven at most
// once per lease period, however many polls look at it.
import type { Context } from "../context.ts";
import { ConflictError } from "../errors.ts";
import { type ChildRef, type JobRef, paths } from "../jobs/paths.ts";
import { jobEvent, jobUpdate } from "../jobs/store.ts";
import { leaseLive } from "../leases/lease.ts";
import type { ChildMessage } from "../steps/messages.ts";
import type { Stored } from "../store/json-store.ts";
import { progressMarkerKey } from "./progress.ts";
import { type ChildState, childSettled, initialChildState, shardEnd } from "./state.ts";

export const EXHAUSTED_CODE = "AttemptsExhausted";

const messageOf = (ref: ChildRef, s: ChildState, priority: number): ChildMessage => ({
  v: 1,
  type: "child",
  accountId: ref.accountId,
  jobId: ref.jobId,
  shard: s.shard,
  endpointId: s.endpointId,
  priority,
  span: s.span,
});

/** Reacts to a child whose lease is older than the lease period: re-drives or exhausts it. */
export async function childRecover(
  ctx: Pick<Context, "store" | "queue" | "settings" | "log">,
  ref: JobRef,
  stateKey: string,
  priority: number,
): Promise<void> {
  const doc = await ctx.store.get<ChildState>(stateKey);
  if (!doc) return;
  const child = { ...ref, endpointId: doc.value.endpointId, shard: doc.value.shard };
  if (childSettled(doc.value)) {
    // Settled, but its marker was never written (the delivery died right after the commit).
    if (doc.value.marker) await ctx.store.putBytes(doc.value.marker, "", "text/plain");
    return;
  }
  if (leaseLive(doc, ctx.settings.leaseSeconds * 1000) || doc.ageMs < ctx.settings.leaseSeconds * 1000)
    return;
  if (doc.value.stalled >= ctx.settings.maxAttempts) {
    await childExhaust(
      ctx,
      child,
      doc,
      `not completed after ${doc.value.stalled} attempts without progress (shard ${doc.value.shard})`,
    );
    return;
  }
  // The dead holder's lease is released in the same write, so the new delivery takes it at once;
  // the write also restarts the clock, so the child is re-driven at most once per lease period.
  const { lease: _dead, ...released } = doc.value;
  try {
    await ctx.store.replace(stateKey, { ...released, updatedAt: new Date().toISOString() }, doc.etag);
  } catch (err) {
    if (err instanceof ConflictError) return; // a delivery took it meanwhile
    throw err;
  }
  ctx.log.info("child re-driven", {
    jobId: ref.jobId,
    endpoint: child.endpointId,
    shard: child.shard,
    attempts: doc.value.attempts,
    stalled: doc.value.stalled,
  });
  await ctx.queue.send(messageOf(child, doc.value, priority));
}

/** A child's message reached the dead-letter queue: send it again, or exhaust the child. */
export async function childDeadLettered(
  ctx: Pick<Context, "store" | "queue" | "settings" | "log">,
  msg: ChildMessage,
  receives: number,
): Promise<void> {
  const ref: ChildRef = {
    accountId: msg.accountId,
    jobId: msg.jobId,
    endpointId: msg.endpointId,
    shard: msg.shard,
  };
  const key = paths.childState(ref, ref.endpointId, ref.shard);
  for (let i = 0; i < 5; i++) {
    const doc =
      (await ctx.store.get<ChildState>(key)) ??
      (await ctx.store.createOrGet(key, initialChildState(ref, msg.span)));
    // Settled, or someone is on it: this was a spare copy of the message.
    if (childSettled(doc.value) || leaseLive(doc, ctx.settings.leaseSeconds * 1000)) return;
    const deadLetters = (doc.value.deadLetters ?? 0) + 1;
    if (deadLetters >= ctx.settings.maxAttempts) {
      await childExhaust(
        ctx,
        ref,
        doc,
        `the message of shard ${ref.shard} reached the dead-letter queue ${deadLetters} times (${receives} receives the last time)`,
      );
      return;
    }
    try {
      await ctx.store.replace(key, { ...doc.value, deadLetters }, doc.etag);
    } catch (err) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
    await jobEvent(ctx.store, ref, "child-dead-letter", {
      endpoint: ref.endpointId,
      shard: ref.shard,
      deadLetters,
    });
    await ctx.queue.send(msg);
    return;
  }
}

/**
 * One FailureReason per endpoint with exhausted children on DescribeJob: how many shards, and the
 * latest reason. Bounded by the endpoint count, whatever the number of shards.
 */
async function failureReasonForEndpoint(ctx: Pick<Context, "store">, ref: ChildRef, message: string) {
  const prefix = `endpoint ${ref.endpointId}: `;
  await jobUpdate(ctx.store, ref, (j) => {
    const at = j.failureReasons.findIndex(
      (r) => r.FailureCode === EXHAUSTED_CODE && r.FailureReason.startsWith(prefix),
    );
    const shards =
      at === -1 ? 1 : Number(/(\d+) shards?/.exec(j.failureReasons[at]?.FailureReason ?? "")?.[1] ?? 1) + 1;
    const reason = {
      FailureCode: EXHAUSTED_CODE,
      FailureReason:
        `${prefix}${shards} ${shards === 1 ? "shard" : "shards"} not completed; last: ${message}`.slice(
          0,
          256,
        ),
    };
    const failureReasons = [...j.failureReasons];
    if (at === -1) failureReasons.push(reason);
    else failureReasons[at] = reason;
    return { ...j, failureReasons };
  });
}

/**
 * Settles a child as exhausted: the rows from its last checkpoint on fail with
 * AttemptsExhausted. Its counts take them as failed, so progress and the failure threshold see
 * them at once.
 */
async function childExhaust(
  ctx: Pick<Context, "store" | "queue" | "log">,
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
  try {
    await ctx.store.replace(paths.childState(ref, ref.endpointId, ref.shard), next, doc.etag);
  } catch (err) {
    if (err instanceof ConflictError) return; // it moved: the next poll looks again
    throw err;
  }
  await ctx.store.putBytes(next.marker, "", "text/plain");
  if (s.marker && s.marker !== next.marker) await ctx.store.delete(s.marker);
  ctx.log.warn("child exhausted", { jobId: ref.jobId, endpoint: ref.endpointId, shard: ref.shard, message });
  await jobEvent(ctx.store, ref, "child-exhausted", { endpoint: ref.endpointId, shard: ref.shard, message });
  await failureReasonForEndpoint(ctx, ref, message);
  await ctx.queue.send({ v: 1, type: "poll", accountId: ref.accountId, jobId: ref.jobId, chain: false });
}
