// The intent journal: what a child is about to do that a later attempt could not recognise by
// looking (a delete leaves nothing behind; a copy onto a versioned bucket adds a version; a
// multipart upload needs its ID to be resumed or aborted). An operation records the intent
// durably before it acts; a later attempt of the same child finds it and reports the earlier
// effect instead of running it again, resumes the upload, or aborts it. Records from concurrent
// tasks are written together (a group commit: one PUT for all the records that arrived while the
// previous write was in flight), so the journal costs one small object per burst of tasks, not
// one per task. Objects whose rows all lie before the committed checkpoint are dropped.
//   intents/<endpoint>/<shard>/<server time>-<attempt>-<seq>   lines of {"row":n,...intent}

import { type ChildRef, type JobRef, paths } from "../jobs/paths.ts";
import type { JsonStore } from "../store/json-store.ts";

/** What an operation recorded for a row: small JSON (an upload's ID and size, a delete, ...). */
export type Intent = Record<string, unknown>;

interface Written {
  key: string;
  maxRow: number;
}

export class IntentJournal {
  private queued: { row: number; intent: Intent }[] = [];
  private flushing: Promise<void> | undefined;
  private seq = 0;
  private readonly written: Written[] = [];
  /** Progress records this attempt wrote: a long task's progress counts as the child's. */
  recordedThisAttempt = 0;

  private constructor(
    private readonly store: JsonStore,
    private readonly prefix: string,
    private readonly attempt: string,
    /** The latest intent per row from this child's earlier attempts (and this one's). */
    private readonly known: Map<number, Intent>,
    earlier: Written[],
  ) {
    this.written.push(...earlier);
  }

  /** The journal of a child's attempt, with what earlier attempts recorded. */
  static async open(store: JsonStore, ref: ChildRef, attempt: string): Promise<IntentJournal> {
    const prefix = paths.childIntents(ref, ref.endpointId, ref.shard);
    const known = new Map<number, Intent>();
    const earlier: Written[] = [];
    // Keys begin with the store's time: listing order is the order they were written.
    for await (const key of store.list(prefix)) {
      const bytes = await store.getBytes(key);
      if (!bytes) continue;
      let maxRow = -1;
      for (const line of new TextDecoder().decode(bytes.body).split("\n")) {
        if (!line) continue;
        const { row, ...intent } = JSON.parse(line) as { row: number } & Intent;
        known.set(row, { ...(known.get(row) ?? {}), ...intent });
        maxRow = Math.max(maxRow, row);
      }
      earlier.push({ key, maxRow });
    }
    return new IntentJournal(store, prefix, attempt, known, earlier);
  }

  /** What was recorded for the row, by this attempt or an earlier one (later records merged in). */
  prior(row: number): Intent | undefined {
    return this.known.get(row);
  }

  /** Every row with a record: for the reconciler that aborts uploads a crash left open. */
  entries(): [number, Intent][] {
    return [...this.known.entries()];
  }

  /**
   * Records `intent` for `row`; resolves once it is durable. `progress`: the record is a long
   * task's progress (parts copied, bytes hashed), which keeps its child from counting as stalled.
   */
  record(row: number, intent: Intent, { progress = false }: { progress?: boolean } = {}): Promise<void> {
    this.known.set(row, { ...(this.known.get(row) ?? {}), ...intent });
    this.queued.push({ row, intent });
    if (progress) this.recordedThisAttempt++;
    return this.flush();
  }

  private flush(): Promise<void> {
    // Records that arrive while a write is in flight go out together in the next one.
    const next = (this.flushing ?? Promise.resolve()).then(async () => {
      const batch = this.queued;
      if (batch.length === 0) return;
      this.queued = [];
      const key = `${this.prefix}${String(this.store.serverNow()).padStart(15, "0")}-${this.attempt}-${String(this.seq++).padStart(6, "0")}`;
      const body = batch.map(({ row, intent }) => JSON.stringify({ row, ...intent })).join("\n");
      await this.store.putBytes(key, `${body}\n`, "application/x-ndjson");
      this.written.push({ key, maxRow: Math.max(...batch.map((b) => b.row)) });
    });
    this.flushing = next.catch(() => {});
    return next;
  }

  /** Drops the journal objects every row of which lies before `nextRow` (a committed checkpoint). */
  async prune(nextRow: number): Promise<void> {
    await this.flushing;
    const done = this.written.filter((w) => w.maxRow < nextRow);
    for (const w of done) {
      await this.store.delete(w.key).catch(() => {});
      this.written.splice(this.written.indexOf(w), 1);
      for (const row of [...this.known.keys()]) if (row < nextRow) this.known.delete(row);
    }
  }
}

/** The journals of every child of a job that has one: for the merge's sweep of open uploads. */
export async function* jobJournals(store: JsonStore, job: JobRef): AsyncGenerator<IntentJournal> {
  const prefix = paths.intents(job);
  const seen = new Set<string>();
  for await (const key of store.list(prefix)) {
    const [endpointId = "", shard = ""] = key.slice(prefix.length).split("/");
    const id = `${endpointId}/${shard}`;
    if (seen.has(id)) continue;
    seen.add(id);
    yield await IntentJournal.open(store, { ...job, endpointId, shard: Number(shard) }, "sweep");
  }
}
