// What the progress route (and `s3batch show` / `watch` / `errors`) tells about a job beyond
// DescribeJob: per endpoint the rows routed there and how far its children got (found,
// succeeded, failed, missing), tasks per second over the last minute and an ETA, phase times, and
// the error summary with sample keys. It costs listings (progress and error markers), the job
// record, the plan and its shard list, and a few sample objects per error group, never one read
// per child.
import { runningErrorSummary } from "../children/errors.ts";
import { listProgress } from "../children/progress.ts";
import { childSettled } from "../children/state.ts";
import type { Context } from "../context.ts";
import { planOf, type ShardList } from "../dispatch/plan.ts";
import { type GatewayConcurrency, gatewayConcurrency } from "../endpoints/budget.ts";
import { type JobRecord, type ProgressSample, TERMINAL_STATUSES } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { type Survey, surveyOf } from "../operations/survey.ts";
import type { ReportSummary, SummaryGroup } from "../report/report-summary.ts";

export interface EndpointProgress {
  id: string;
  /** Rows of the shards this endpoint holds buckets of. */
  routed: number;
  /** Rows its children have been through. */
  done: number;
  found: number;
  succeeded: number;
  failed: number;
  /** Rows absent here whose bucket no other endpoint holds: certain 404s. */
  missing: number;
  children: { total: number; started: number; settled: number };
  /**
   * Once the report is written: the job's tasks credited to this endpoint (a success to the first
   * endpoint it succeeded on, a failure to the endpoint its report row names). With the tasks
   * found on no endpoint (`tasksFoundNowhere`) they add up to DescribeJob's counts.
   */
  tasks: { succeeded: number; failed: number } | null;
  tasksPerSecond: number;
  etaSeconds: number | null;
  /** How many requests the gateway takes at once now, as the workers found it (endpoints/adaptive.ts). */
  concurrency: GatewayConcurrency | null;
}

export interface ProgressView {
  jobId: string;
  status: JobRecord["status"];
  priority: number;
  tasks: { total: number; succeeded: number; failed: number };
  tasksPerSecond: number;
  etaSeconds: number | null;
  phases: JobRecord["phaseTimes"];
  endpoints: EndpointProgress[];
  /** Failed tasks by endpoint × HTTP status × error code: exact once the report is written. */
  errors: SummaryGroup[];
  errorsFinal: boolean;
  /** Once the report is written: the failed tasks whose object no endpoint holds. */
  tasksFoundNowhere: number | null;
  failureReasons: JobRecord["failureReasons"];
  /** The job's survey (a dry run), when one was asked for. */
  survey: Survey | null;
}

const WINDOW_MS = 60_000;

/** Units per second over the samples of the last minute (0 with fewer than two). */
function rateOf(samples: ProgressSample[], value: (s: ProgressSample) => number, now: number): number {
  const recent = samples.filter((s) => now - Date.parse(s.at) <= WINDOW_MS);
  const first = recent[0];
  const last = recent.at(-1);
  if (!first || !last || first === last) return 0;
  const seconds = (Date.parse(last.at) - Date.parse(first.at)) / 1000;
  return seconds > 0 ? Math.max(0, (value(last) - value(first)) / seconds) : 0;
}

const eta = (left: number, rate: number) => (left <= 0 ? 0 : rate > 0 ? Math.round(left / rate) : null);

export async function progressView(
  ctx: Pick<Context, "store" | "settings">,
  job: JobRecord,
): Promise<ProgressView> {
  const { store } = ctx;
  const ref: JobRef = job;
  const ended = TERMINAL_STATUSES.includes(job.status);
  const plan = await planOf(store, ref);
  const shards = plan ? ((await store.get<ShardList>(paths.shards(ref)))?.value.shards ?? []) : [];
  const progress = await listProgress(store, ref);
  let started = new Map<string, number>();
  if (!ended) {
    started = new Map();
    const prefix = paths.children(ref);
    for await (const key of store.list(prefix)) {
      const endpoint = key.slice(prefix.length).split("/")[0] ?? "";
      started.set(endpoint, (started.get(endpoint) ?? 0) + 1);
    }
  }
  const now = Date.now();
  const samples = job.samples ?? [];
  const byId = new Map<string, EndpointProgress>();
  const of = (id: string) => {
    let e = byId.get(id);
    if (!e) {
      e = {
        id,
        routed: 0,
        done: 0,
        found: 0,
        succeeded: 0,
        failed: 0,
        missing: 0,
        children: { total: 0, started: 0, settled: 0 },
        tasks: null,
        tasksPerSecond: 0,
        etaSeconds: null,
        concurrency: null,
      };
      byId.set(id, e);
    }
    return e;
  };
  for (const s of shards)
    for (const id of s.endpoints) {
      const e = of(id);
      e.routed += s.rowCount;
      e.children.total++;
    }
  for (const p of progress.values()) {
    const e = of(p.endpointId);
    e.done += p.done;
    e.found += p.found;
    e.succeeded += p.succeeded;
    e.failed += p.failed;
    e.missing += p.missing;
    if (childSettled(p)) e.children.settled++;
  }
  for (const e of byId.values()) {
    const endpoint = ctx.settings.endpoints.find((x) => x.id === e.id);
    if (!ended && endpoint)
      e.concurrency = await gatewayConcurrency(
        store,
        e.id,
        endpoint.maxConcurrency,
        ctx.settings.leaseSeconds * 1000,
      );
    e.children.started = ended ? e.children.total : (started.get(e.id) ?? 0);
    e.tasksPerSecond = ended ? 0 : rateOf(samples, (s) => s.byEndpoint[e.id] ?? 0, now);
    e.etaSeconds = ended ? 0 : eta(e.routed - e.done, e.tasksPerSecond);
  }
  const final = ended ? (await store.get<ReportSummary>(paths.errorSummary(ref)))?.value : undefined;
  const errors = final?.groups ?? (await runningErrorSummary(store, ref));
  if (final) for (const e of byId.values()) e.tasks = final.tasks[e.id] ?? { succeeded: 0, failed: 0 };
  const rate = ended ? 0 : rateOf(samples, (s) => s.done, now);
  const done = job.progress.succeeded + job.progress.failed;
  return {
    jobId: job.jobId,
    status: job.status,
    priority: job.priority,
    tasks: job.progress,
    tasksPerSecond: Math.round(rate * 10) / 10,
    etaSeconds: ended ? 0 : eta(job.progress.total - done, rate),
    phases: job.phaseTimes,
    endpoints: [...byId.values()].map((e) => ({
      ...e,
      tasksPerSecond: Math.round(e.tasksPerSecond * 10) / 10,
    })),
    errors: errors.map((g) => ({
      endpoint: g.endpoint,
      http: g.http,
      code: g.code,
      count: g.count,
      samples: g.samples,
    })),
    errorsFinal: final !== undefined,
    tasksFoundNowhere: final ? (final.tasks["-"]?.failed ?? 0) : null,
    failureReasons: job.failureReasons,
    survey: (await surveyOf(ctx, job)) ?? null,
  };
}
