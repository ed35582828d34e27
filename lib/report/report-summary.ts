// The finished report's summary: failed rows grouped by endpoint × HTTP status × error code
// (the endpoint whose failure the row reports; "-" for rows found on no endpoint), each with its
// count and up to five sample keys, as the report spells them; and every task credited to one
// endpoint (a success to the first endpoint it succeeded on, a failure to the endpoint the row
// names), so the endpoints' tasks add up to the job's. The merge builds it from the very rows it
// writes, so it matches the report row for row; it is carried across handovers.
import { parseCsvLine } from "../manifest/csv.ts";

export interface SummaryGroup {
  endpoint: string;
  http: number;
  code: string;
  count: number;
  samples: { bucket: string; key: string }[];
}

const MAX_GROUPS = 200;
const MAX_SAMPLES = 5;

export type EndpointTasks = Record<string, { succeeded: number; failed: number }>;

export interface ReportSummary {
  groups: SummaryGroup[];
  tasks: EndpointTasks;
}

export class ReportTally {
  private readonly groups = new Map<string, SummaryGroup>();
  private readonly tasks: EndpointTasks = {};

  constructor(saved: ReportSummary = { groups: [], tasks: {} }) {
    for (const g of saved.groups) this.groups.set(`${g.endpoint}/${g.http}/${g.code}`, structuredClone(g));
    for (const [id, t] of Object.entries(saved.tasks)) this.tasks[id] = { ...t };
  }

  private credit(endpoint: string, outcome: "succeeded" | "failed", n = 1): void {
    const t = this.tasks[endpoint] ?? { succeeded: 0, failed: 0 };
    t[outcome] += n;
    this.tasks[endpoint] = t;
  }

  /** Counts one succeeded row, credited to `endpoint`. */
  succeeded(endpoint: string): void {
    this.credit(endpoint, "succeeded");
  }

  private group(endpoint: string, http: number, code: string): SummaryGroup {
    const id = `${endpoint}/${http}/${code}`;
    let g = this.groups.get(id);
    if (g) return g;
    if (this.groups.size >= MAX_GROUPS) return this.group("-", 0, "Other");
    g = { endpoint, http, code, count: 0, samples: [] };
    this.groups.set(id, g);
    return g;
  }

  /** Counts one failed row; `echo` is the row's `Bucket,Key[,VersionId]` as the report writes it. */
  add(endpoint: string, http: number, code: string, echo: string): void {
    this.credit(endpoint, "failed");
    const g = this.group(endpoint, http, code);
    g.count++;
    if (g.samples.length < MAX_SAMPLES) {
      const [bucket = "", key = ""] = parseCsvLine(echo) ?? [];
      g.samples.push({ bucket, key });
    }
  }

  /** Adds another summary's groups (a batch's) to this one. */
  merge(other: ReportTally): void {
    for (const [id, t] of Object.entries(other.tasks)) {
      this.credit(id, "succeeded", t.succeeded);
      this.credit(id, "failed", t.failed);
    }
    for (const o of other.groups.values()) {
      const g = this.group(o.endpoint, o.http, o.code);
      g.count += o.count;
      for (const s of o.samples) if (g.samples.length < MAX_SAMPLES) g.samples.push(s);
    }
  }

  toJSON(): ReportSummary {
    return { groups: [...this.groups.values()].sort((a, b) => b.count - a.count), tasks: this.tasks };
  }
}
