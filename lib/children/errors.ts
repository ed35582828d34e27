// A running job's error summary, kept as the children go: each child tallies its failed tasks by
// HTTP status and error code, with up to five sample keys per group, and at each checkpoint names
// every group that changed in a marker of its own:
//   errors/<endpoint>/<http>.<code>/<shard>.<count>     (body: the sample keys, JSON)
// so the progress route sums every group from one listing and reads at most a few small objects
// per group for samples, however many children the job has. The merge writes the exact summary
// of the finished report (report/report-summary.ts).
import { type JobRef, paths } from "../jobs/paths.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { TaskOutcome } from "../operations/types.ts";
import type { SummaryGroup } from "../report/report-summary.ts";
import type { JsonStore } from "../store/json-store.ts";

export const MAX_ERROR_GROUPS = 20;
export const MAX_SAMPLES = 5;

export interface ErrorGroup {
  count: number;
  samples: { bucket: string; key: string }[];
}

/** Groups are `<http>.<code>`; a code is kept to letters and digits (it names objects). */
export const groupOf = (http: number, code: string) =>
  `${http}.${code.replace(/[^A-Za-z0-9]/g, "").slice(0, 64) || "Error"}`;

/** A child's tally, carried in its state across attempts. */
export class ErrorTally {
  private readonly groups: Record<string, ErrorGroup>;
  private readonly changed = new Set<string>();

  constructor(initial: Record<string, ErrorGroup> | undefined) {
    this.groups = structuredClone(initial ?? {});
    // A resumed child rewrites its markers: the attempt before may have died before writing them.
    for (const g of Object.keys(this.groups)) this.changed.add(g);
  }

  add(row: TaskRow, outcome: Extract<TaskOutcome, { kind: "failed" }>): void {
    let group = groupOf(outcome.http, outcome.code);
    if (!this.groups[group] && Object.keys(this.groups).length >= MAX_ERROR_GROUPS) group = "0.Other";
    const g = this.groups[group] ?? { count: 0, samples: [] };
    this.groups[group] = g;
    g.count++;
    if (g.samples.length < MAX_SAMPLES) g.samples.push({ bucket: row.bucket, key: row.rawKey });
    this.changed.add(group);
  }

  get value(): Record<string, ErrorGroup> {
    return this.groups;
  }

  /** The groups changed since their markers were last written. */
  changedGroups(): string[] {
    return [...this.changed];
  }

  /** Their markers are written. */
  written(groups: string[]): void {
    for (const g of groups) this.changed.delete(g);
  }
}

/** Writes the markers of `changed` groups and removes the ones they replace. */
export async function writeErrorMarkers(
  store: JsonStore,
  ref: JobRef,
  endpointId: string,
  shard: number,
  groups: Record<string, ErrorGroup>,
  before: Record<string, ErrorGroup> | undefined,
  changed: string[],
): Promise<void> {
  for (const group of changed) {
    const g = groups[group];
    if (!g) continue;
    await store.putBytes(
      paths.errorMarker(ref, endpointId, group, shard, g.count),
      JSON.stringify({ samples: g.samples }),
      "application/json",
    );
    const old = before?.[group]?.count;
    if (old !== undefined && old !== g.count)
      await store.delete(paths.errorMarker(ref, endpointId, group, shard, old));
  }
}

const MARKER = /^([a-z0-9-]+)\/(\d+)\.([A-Za-z0-9]+)\/(\d{8})\.(\d+)$/;

/** The running summary: counts from one listing, samples from at most a few markers per group. */
export async function runningErrorSummary(store: JsonStore, ref: JobRef): Promise<SummaryGroup[]> {
  const prefix = paths.errors(ref);
  // Per child and group only the marker with the highest count counts (a crash may leave two).
  const latest = new Map<string, { key: string; count: number; group: string }>();
  for await (const key of store.list(prefix)) {
    const m = MARKER.exec(key.slice(prefix.length));
    if (!m) continue;
    const [, endpoint = "", http, code = "", shard, count] = m;
    const id = `${endpoint}/${http}.${code}/${shard}`;
    const seen = latest.get(id);
    if (!seen || Number(count) > seen.count)
      latest.set(id, { key, count: Number(count), group: `${endpoint}/${http}.${code}` });
  }
  const groups = new Map<string, { entry: SummaryGroup; keys: string[] }>();
  for (const { key, count, group } of latest.values()) {
    const [endpoint = "", rest = ""] = group.split("/");
    const dot = rest.indexOf(".");
    let g = groups.get(group);
    if (!g) {
      g = {
        entry: {
          endpoint,
          http: Number(rest.slice(0, dot)),
          code: rest.slice(dot + 1),
          count: 0,
          samples: [],
        },
        keys: [],
      };
      groups.set(group, g);
    }
    g.entry.count += count;
    g.keys.push(key);
  }
  for (const { entry, keys } of groups.values()) {
    for (const key of keys) {
      if (entry.samples.length >= MAX_SAMPLES) break;
      const doc = await store.get<{ samples: SummaryGroup["samples"] }>(key);
      for (const s of doc?.value.samples ?? []) if (entry.samples.length < MAX_SAMPLES) entry.samples.push(s);
    }
  }
  return [...groups.values()].map((g) => g.entry).sort((a, b) => b.count - a.count);
}
