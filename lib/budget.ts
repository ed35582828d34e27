// An invocation's time budget. On Lambda it is the invocation's remaining time; in the local
// runtime, S3BATCH_BUDGET_SECONDS. A step that runs long watches `signal`, which fires a margin
// before the budget ends, and hands the rest of its work to a fresh invocation.
import type { Settings } from "./settings.ts";

export interface Budget {
  /** Epoch ms by which the step must have handed over. */
  handOverAt: number;
  /** Fires at `handOverAt`. */
  signal: AbortSignal;
}

/** Lambda's context, or the local runtime's imitation of it. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** The budget of an invocation with `remainingMs` left. */
export function budgetOf(
  remainingMs: number,
  settings: Pick<Settings, "handoverMarginSeconds">,
  now = Date.now(),
): Budget {
  const margin = Math.min(settings.handoverMarginSeconds * 1000, remainingMs / 4);
  const ms = Math.max(0, Math.floor(remainingMs - margin));
  return { handOverAt: now + ms, signal: AbortSignal.timeout(ms) };
}

/** The local runtime's context for an invocation starting now. */
export function localInvocation(budgetSeconds: number): InvocationContext {
  const end = Date.now() + budgetSeconds * 1000;
  return { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
}
