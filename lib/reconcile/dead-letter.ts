// Messages that reached a dead-letter queue, handled by the reconciler (the poll function is
// also the consumer of the four DLQs). Nothing waits on a message that died: the death is counted
// on its step's document and the message sent again, until it has died `maxAttempts` times; then
// the step is given up (steps/step.ts): a child settled as exhausted, a dispatch or merge failing
// the job with its code. A poll message only revives the job's poll chain. Every dead letter is
// in the job's event log.
import { childStep, childStepRef } from "../children/child-step.ts";
import type { Context } from "../context.ts";
import { dispatchStep } from "../dispatch/dispatch-step.ts";
import { TERMINAL_STATUSES } from "../jobs/model.ts";
import { jobEvent, jobGet } from "../jobs/store.ts";
import { mergeStep } from "../merge/merge-step.ts";
import type { PipelineMessage } from "../steps/messages.ts";
import { deadLettered } from "../steps/step.ts";

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
    case "poll":
      // A nudge revives the chain if it went quiet with this message.
      await ctx.queue.send({ v: 1, type: "poll", accountId: msg.accountId, jobId: msg.jobId, chain: false });
      return;
    case "child":
      await deadLettered(ctx, childStep, childStepRef(msg), receives);
      return;
    case "dispatch":
      await deadLettered(ctx, dispatchStep, msg, receives);
      return;
    case "merge":
      await deadLettered(ctx, mergeStep, job.value, receives);
      return;
  }
}
