// AWS's completion report layout: <Prefix>/job-<JobId>/manifest.json and
// <Prefix>/job-<JobId>/results/<name>.csv, with rows
// Bucket,Key,VersionId,TaskStatus,HTTPStatusCode,ErrorCode,ResultMessage (no header).
import { csvField } from "../manifest/csv.ts";

export const REPORT_FORMAT = "Report_CSV_20180820";
export const REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage";

export function reportBase(prefix: string | undefined, jobId: string): string {
  const p = (prefix ?? "").replace(/\/+$/, "");
  return p ? `${p}/job-${jobId}` : `job-${jobId}`;
}

export const reportKeys = (prefix: string | undefined, jobId: string) => {
  const base = reportBase(prefix, jobId);
  return {
    manifest: `${base}/manifest.json`,
    resultsPrefix: `${base}/results/`,
    results: (status: "succeeded" | "failed") => `${base}/results/${jobId}-${status}.csv`,
  };
};

export interface ReportRow {
  bucket: string;
  key: string;
  versionId?: string | undefined;
  status: "succeeded" | "failed";
  http: number;
  code: string;
  message: string;
}

/** One report line; HTTPStatusCode comes before ErrorCode, as AWS's real rows have it. */
export function reportLine(r: ReportRow): string {
  // Bucket names and statuses never need quoting.
  const message = r.message === "Successful" ? r.message : csvField(r.message);
  return `${r.bucket},${csvField(r.key)},${r.versionId ? csvField(r.versionId) : ""},${r.status},${r.http},${csvField(r.code)},${message}\n`;
}

export interface ReportManifest {
  Format: string;
  ReportCreationDate: string;
  Results: {
    TaskExecutionStatus: "succeeded" | "failed";
    Bucket: string;
    MD5Checksum: string;
    Key: string;
  }[];
  ReportSchema: string;
}
