// Messages that reached a dead-letter queue, handled by the reconciler (the poll function is
// also the consumer of the four DLQs). Nothing waits on a message that died: a child's is sent
// again until it has died `maxAttempts` times, then the child is settled as exhausted; a
// dispatch or merge message likewise, then the job fails with the reason; a poll message only
// revives the job's poll chain. Every dead letter is in the job's event log.

import { childDeadLettered } from "../children/recover.ts";
import type { Context } from "../context.ts";
import { initialDispatchState } from "../dispatch/dispatch.ts";
import { ConflictError } from "../errors.ts";
import { TERMINAL_STATUSES } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { jobEvent, jobGet } from "../jobs/store.ts";
import { JobStatusError, jobMarkFailed } from "../jobs/transitions.ts";
import { type LeaseFields, leaseLive } from "../leases/lease.ts";
import { initialMergeState, type MergeState } from "../merge/merge-state.ts";
import type { PipelineMessage } from "../steps/messages.ts";

type Deps = Pick<Context, "store" | "queue" | "settings" | "log">;

/** A message that died `receives` times the last time it was received. */
export async function deadLetter(ctx: Deps, msg: PipelineMessage, receives: number): Promise<void> {
  const job = await jobGet(ctx.store, msg);
  if (!job || TERMINAL_STATUSES.includes(job.value.status)) return;
  ctx.log.warn("dead letter", { jobId: msg.jobId, type: msg.type, receives });
  await jobEvent(ctx.store, msg, "dead-letter", {
    messageType: msg.type,
    receives,
    ...(msg.type === "child" ? { endpoint: msg.endpointId, shard: msg.shard } : {}),
  });
  switch (msg.type) {
    case "child":
      return childDeadLettered(ctx, msg, receives);
    case "poll":
      // A nudge revives the chain if it went quiet with this message.
      return ctx.queue.send({ v: 1, type: "poll", accountId: msg.accountId, jobId: msg.jobId, chain: false });
    case "dispatch":
      return stepDeadLettered(
        ctx,
        msg,
        paths.dispatchState(msg),
        initialDispatchState,
        "PreparationFailed",
        msg,
      );
    case "merge":
      return stepDeadLettered<MergeState>(
        ctx,
        msg,
        paths.mergeState(msg),
        initialMergeState,
        "ReportFailed",
        msg,
      );
  }
}

/** Dispatch or merge: counts the death on its lease document, then re-sends or fails the job. */
async function stepDeadLettered<T extends LeaseFields>(
  ctx: Deps,
  ref: JobRef,
  key: string,
  initial: () => T,
  code: string,
  msg: PipelineMessage,
): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const doc = (await ctx.store.get<T>(key)) ?? (await ctx.store.createOrGet<T>(key, initial()));
    if (leaseLive(doc, ctx.settings.leaseSeconds * 1000)) return; // a live step: a spare copy died
    const deadLetters = (doc.value.deadLetters ?? 0) + 1;
    try {
      await ctx.store.replace(key, { ...doc.value, deadLetters }, doc.etag);
    } catch (err) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
    if (deadLetters < ctx.settings.maxAttempts) return ctx.queue.send(msg);
    try {
      await jobMarkFailed(ctx.store, ref, {
        failureReasons: [
          {
            FailureCode: code,
            FailureReason: `the ${msg.type} message reached the dead-letter queue ${deadLetters} times`,
          },
        ],
      });
    } catch (err) {
      if (!(err instanceof JobStatusError)) throw err;
    }
    return;
  }
}
