// Reading and conditionally updating job records, plus the per-job event log.
import type { JsonStore } from "../store/json-store.ts";
import type { JobRecord } from "./model.ts";
import { type JobRef, paths } from "./paths.ts";

export async function jobGet(store: JsonStore, ref: JobRef) {
  return store.get<JobRecord>(paths.job(ref));
}

/**
 * Applies `change` to the current record as one conditional write (JsonStore.update). `change`
 * returns the new record, or undefined to leave it as it is. A lost race re-reads and decides again.
 */
export async function jobUpdate(
  store: JsonStore,
  ref: JobRef,
  change: (job: JobRecord) => JobRecord | undefined,
): Promise<JobRecord | undefined> {
  return (await store.update<JobRecord>(paths.job(ref), change))?.value;
}

/** Appends one event to the job's log: one object per event, so writers never contend. */
export async function jobEvent(
  store: JsonStore,
  ref: JobRef,
  type: string,
  detail: Record<string, unknown> = {},
) {
  const at = new Date().toISOString();
  const seq = Math.random().toString(36).slice(2, 10);
  await store.putBytes(
    paths.event(ref, at, seq),
    JSON.stringify({ at, type, ...detail }),
    "application/json",
  );
}
