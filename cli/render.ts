// What the CLI prints for people: plain tables and lines on stdout, and `watch`'s progress bars
// (cli-progress's MultiBar) on stderr, drawn only when stderr is a terminal.
import type { JobDescriptor, JobListDescriptor } from "@aws-sdk/client-s3-control";
import cliProgress from "cli-progress";
import type { ProgressView } from "../lib/api/progress-view.ts";
import { CAPABILITIES, type Finding, type GatewayCapabilities } from "../lib/endpoints/capabilities.ts";
import { operationName } from "../lib/s3control/create-job-schema.ts";

export type Out = (line: string) => void;

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function printJobs(out: Out, jobs: JobListDescriptor[]): void {
  if (jobs.length === 0) {
    out("no jobs");
    return;
  }
  const rows = [
    ["JOB", "STATUS", "PRIORITY", "OPERATION", "CREATED", "SUCCEEDED", "FAILED", "TOTAL", "DESCRIPTION"],
  ];
  for (const j of jobs)
    rows.push([
      j.JobId ?? "",
      j.Status ?? "",
      String(j.Priority ?? ""),
      j.Operation ?? "-",
      j.CreationTime?.toISOString().slice(0, 19).replace("T", " ") ?? "",
      String(j.ProgressSummary?.NumberOfTasksSucceeded ?? 0),
      String(j.ProgressSummary?.NumberOfTasksFailed ?? 0),
      String(j.ProgressSummary?.TotalNumberOfTasks ?? 0),
      j.Description ?? "",
    ]);
  for (const l of table(rows)) out(l);
}

export function printEndpoints(out: Out, p: ProgressView): void {
  const rows = [
    ["ENDPOINT", "ROUTED", "DONE", "FOUND", "SUCCEEDED", "FAILED", "MISSING", "TASKS/S", "ETA", "IN FLIGHT"],
  ];
  for (const e of p.endpoints)
    rows.push([
      e.id,
      String(e.routed),
      String(e.done),
      String(e.found),
      String(e.succeeded),
      String(e.failed),
      String(e.missing),
      e.tasksPerSecond.toFixed(1),
      duration(e.etaSeconds),
      // The adaptive limit the workers found, of the operator's ceiling.
      e.concurrency ? `${e.concurrency.limit}/${e.concurrency.ceiling}` : "-",
    ]);
  for (const l of table(rows)) out(l);
}

export function printJob(out: Out, job: JobDescriptor, p: ProgressView): void {
  const s = job.ProgressSummary;
  const manifest = job.Manifest?.Location?.ObjectArn ?? (job.ManifestGenerator ? "generated" : "-");
  const lines: [string, string][] = [
    ["Job", job.JobId ?? ""],
    ["Status", job.Status ?? ""],
    ["Operation", operationName(job.Operation) ?? "-"],
    ["Priority", String(job.Priority ?? "")],
    ["Description", job.Description ?? "-"],
    ["Manifest", manifest],
    [
      "Report",
      job.Report?.Enabled
        ? `${job.Report.Bucket}/${job.Report.Prefix ?? ""} (${job.Report.ReportScope ?? "AllTasks"})`
        : "none",
    ],
    ["Created", job.CreationTime?.toISOString() ?? "-"],
    ["Ended", job.TerminationDate?.toISOString() ?? "-"],
    [
      "Tasks",
      `${s?.NumberOfTasksSucceeded ?? 0} succeeded, ${s?.NumberOfTasksFailed ?? 0} failed, of ${s?.TotalNumberOfTasks ?? 0}`,
    ],
    ["Rate", `${p.tasksPerSecond.toFixed(1)} tasks/s, ETA ${duration(p.etaSeconds)}`],
  ];
  for (const [k, v] of lines) out(`${`${k}:`.padEnd(13)}${v}`);
  for (const f of job.FailureReasons ?? [])
    out(`${"Failure:".padEnd(13)}${f.FailureCode}: ${f.FailureReason}`);
  const phases = Object.entries(p.phases ?? {}).sort(([, a], [, b]) => String(a).localeCompare(String(b)));
  if (phases.length)
    out(`${"Phases:".padEnd(13)}${phases.map(([k, v]) => `${k} ${String(v).slice(11, 19)}`).join(", ")}`);
  out("");
  printEndpoints(out, p);
  if (p.errors.length) {
    out("");
    printErrors(out, p);
  }
  if (p.survey) {
    out("");
    out(`Survey (${p.survey.status}):`);
    printSurvey(out, p.survey);
  }
}

export function printSurvey(out: Out, s: NonNullable<ProgressView["survey"]>): void {
  const rows = [["ENDPOINT", "FOUND", "BYTES", "STORAGE CLASSES"]];
  for (const [id, e] of Object.entries(s.endpoints).sort())
    rows.push([
      id,
      String(e.found),
      String(e.bytes),
      Object.entries(e.storageClasses)
        .map(([c, n]) => `${c} ${n}`)
        .join(", "),
    ]);
  for (const l of table(rows)) out(l);
  out(`Rows:               ${s.rows}`);
  out(`On several:         ${s.onSeveralEndpoints}`);
  out(`Missing objects:    ${s.missingObjects}`);
  out(`Missing buckets:    ${s.missingBuckets}`);
  if (s.crossGatewayBytes !== undefined) out(`Bytes across:       ${s.crossGatewayBytes}`);
  const fails = Object.entries(s.wouldFail);
  out(`Would fail:         ${fails.length ? fails.map(([c, n]) => `${n} ${c}`).join(", ") : "none"}`);
}

export function printErrors(out: Out, p: ProgressView): void {
  if (p.errors.length === 0) {
    out(p.errorsFinal ? "no failed tasks" : "no failed tasks so far");
    return;
  }
  const rows = [["ENDPOINT", "HTTP", "CODE", "COUNT", "SAMPLES"]];
  for (const g of p.errors)
    rows.push([
      g.endpoint,
      String(g.http),
      g.code,
      String(g.count),
      g.samples.map((s) => `${s.bucket}/${decodeKey(s.key)}`).join(" "),
    ]);
  for (const l of table(rows)) out(l);
  if (!p.errorsFinal) out("(the job is still running: counts so far)");
}

/** The gateways' capability tables: a column per gateway, a row per capability. */
export function printGateways(out: Out, tables: GatewayCapabilities[]): void {
  if (tables.length === 0) {
    out("no gateways");
    return;
  }
  const cell = (f: Finding | undefined) =>
    !f ? "-" : f.ok ? (f.note ? `yes (${f.note})` : "yes") : `no: ${f.http ?? ""} ${f.code ?? ""}`.trim();
  const rows = [["", ...tables.map((t) => t.endpointId)]];
  for (const c of CAPABILITIES) rows.push([c, ...tables.map((t) => cell(t.capabilities[c]))]);
  rows.push([
    "probed",
    ...tables.map((t) => (t.error ? t.error : t.probedAt.slice(0, 19).replace("T", " "))),
  ]);
  for (const l of table(rows)) out(l);
}

/** Report and sample keys are URL-encoded, as in the manifest. */
function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return key;
  }
}

/** `watch`'s bars: one overall, one per endpoint, each with done/total, tasks/s and ETA. */
export class Bars {
  private readonly multi: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format: "{name} {bar} {value}/{total} {speed} tasks/s ETA {left} {status}",
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        forceRedraw: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(p: ProgressView): void {
    const width = Math.max(7, ...p.endpoints.map((e) => e.id.length));
    const set = (
      id: string,
      name: string,
      value: number,
      total: number,
      speed: number,
      left: number | null,
      status: string,
    ) => {
      const payload = { name: name.padEnd(width), speed: speed.toFixed(1), left: duration(left), status };
      let bar = this.bars.get(id);
      if (!bar) {
        bar = this.multi.create(Math.max(total, 1), value, payload);
        this.bars.set(id, bar);
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(value, payload);
    };
    const done = p.tasks.succeeded + p.tasks.failed;
    set("*", "overall", done, p.tasks.total, p.tasksPerSecond, p.etaSeconds, p.status);
    for (const e of p.endpoints)
      set(e.id, e.id, e.done, e.routed, e.tasksPerSecond, e.etaSeconds, `${e.failed} failed`);
  }

  stop(): void {
    this.multi.stop();
  }
}
