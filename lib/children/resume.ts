// Taking a child over: a delivery of a child message takes the child's lease (leases/lease.ts)
// and resumes from its last checkpoint by reading back the tail of its output (the results not
// yet sealed). A child that has not started may first step aside for a higher-priority job; a
// settled one only makes sure its progress marker exists (a delivery that died before writing it).
import { bitmapsReady, deserializeBitmap } from "../bitmap/valid-bitmap.ts";
import type { Context } from "../context.ts";
import { RetryableError, UnrecoverableError } from "../errors.ts";
import type { JobRecord } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { type Lease, leaseAcquire, newAttempt } from "../leases/lease.ts";
import type { ChildMessage } from "../steps/messages.ts";
import { requeueChild, shouldStepAside } from "../steps/priority.ts";
import { comeBackAfterSeconds } from "../steps/step.ts";
import type { Pending } from "./checkpoint.ts";
import { childStepRef } from "./child-step.ts";
import { readChildOutput } from "./output.ts";
import { type ChildState, childSettled, initialChildState } from "./state.ts";

export type TakeOver =
  | { kind: "held"; lease: Lease<ChildState>; resumed: Pending | undefined }
  | { kind: "busy" | "settled" | "stepped-aside" };

/** Takes the child's lease for a new attempt and loads what its last checkpoint left pending. */
export async function childTakeOver(ctx: Context, msg: ChildMessage, job: JobRecord): Promise<TakeOver> {
  const { store } = ctx;
  const ref = childStepRef(msg);
  const key = paths.childState(ref, ref.endpointId, ref.shard);
  if (!(await store.get<ChildState>(key)) && job.status === "Active") {
    if (await shouldStepAside(ctx, msg, job.priority)) {
      await requeueChild(ctx, msg);
      return { kind: "stepped-aside" };
    }
  }
  const acquired = await leaseAcquire<ChildState>(store, key, newAttempt(), {
    initial: () => initialChildState(ref, msg.span),
    finished: childSettled,
    take: (s) => ({
      ...s,
      workers: [...(s.workers ?? []).filter((w) => w !== ctx.workerId), ctx.workerId].slice(-8),
    }),
    leaseMs: ctx.settings.leaseSeconds * 1000,
    log: ctx.log,
  });
  if (!acquired) throw new RetryableError(`the state of child ${ref.endpointId}/${ref.shard} vanished`);
  if (acquired.kind === "finished") {
    const marker = acquired.doc.value.marker;
    if (marker) await store.putBytes(marker, "", "text/plain");
    return { kind: "settled" };
  }
  if (acquired.kind === "busy") {
    // A holder that missed its heartbeats is probably gone: come back just after its lease ends
    // rather than wait for the reconciler. A live holder's copy is a duplicate and is dropped.
    const delay = comeBackAfterSeconds(acquired.doc, ctx.settings.leaseSeconds * 1000);
    if (delay !== undefined) await ctx.queue.send(msg, delay);
    return { kind: "busy" };
  }
  const { lease } = acquired;
  try {
    return { kind: "held", lease, resumed: await readPending(ctx, lease.value) };
  } catch (err) {
    lease.stop();
    throw err;
  }
}

/** The results the last checkpoint left in the tail: the bitmap and outcome lines since the last seal. */
async function readPending(ctx: Context, state: ChildState): Promise<Pending | undefined> {
  if (!state.tail) return undefined;
  const stream = await ctx.store.getStream(state.tail);
  if (!stream)
    throw new UnrecoverableError("InternalError", `the tail ${state.tail} of a checkpoint is missing`);
  await bitmapsReady();
  const { bitmap, outcomes } = await readChildOutput(stream);
  return { bitmap: deserializeBitmap(bitmap), outcomes };
}
