// Job priority with an observable effect. A running job whose children have not all started has
// a marker under pending/<account>/, named so that the highest priority sorts first. A child that
// is about to start steps aside while another job of its account with a higher priority still
// has children waiting: it re-queues itself with a short delay, so the higher-priority job's
// children take the free workers first. Poll removes a marker once all its job's children started.

import { type JobRef, paths } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import type { JsonStore } from "../store/json-store.ts";
import type { ChildMessage } from "./messages.ts";
import type { Queue } from "./queue.ts";

export const STEP_ASIDE_SECONDS = 2;

export async function pendingMark(ctx: { store: JsonStore }, ref: JobRef, priority: number): Promise<void> {
  await ctx.store.putBytes(paths.pendingMarker(ref, priority), "", "text/plain");
}

export async function pendingClear(ctx: { store: JsonStore }, ref: JobRef, priority: number): Promise<void> {
  await ctx.store.delete(paths.pendingMarker(ref, priority));
}

/** Moves a job's marker to its new priority, if it has one. */
export async function pendingReprioritize(ctx: { store: JsonStore }, ref: JobRef, from: number, to: number) {
  if (from === to || !(await ctx.store.getBytes(paths.pendingMarker(ref, from)))) return;
  await pendingMark(ctx, ref, to);
  await pendingClear(ctx, ref, from);
}

const markerPattern = /^(\d{10})-(.+)$/;

/**
 * True when the child should wait: another Active job of the account, with a higher priority,
 * still has children to start. A marker whose job is no longer Active is stale and removed.
 */
export async function shouldStepAside(
  ctx: { store: JsonStore },
  msg: ChildMessage,
  ownPriority: number,
): Promise<boolean> {
  const prefix = paths.pending(msg.accountId);
  for (let i = 0; i < 3; i++) {
    const key = await ctx.store.firstKey(prefix);
    const m = key ? markerPattern.exec(key.slice(prefix.length)) : null;
    if (!key || !m?.[1] || !m[2]) return false;
    const priority = 2_147_483_647 - Number(m[1]);
    const jobId = m[2];
    if (jobId === msg.jobId) return false;
    if (priority <= ownPriority) return false;
    const other = (await jobGet(ctx.store, { accountId: msg.accountId, jobId }))?.value;
    if (other?.status === "Active") return true;
    await ctx.store.delete(key);
  }
  return false;
}

/** Re-queues a child that stepped aside. */
export async function requeueChild(ctx: { queue: Queue }, msg: ChildMessage): Promise<void> {
  await ctx.queue.send(msg, STEP_ASIDE_SECONDS);
}
