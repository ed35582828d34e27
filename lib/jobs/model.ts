// The job record kept at jobs/<account>/<id>/job.json and the statuses it moves through.
import type { CreateJobInput } from "../s3control/create-job-schema.ts";

export const JOB_STATUSES = [
  "New",
  "Preparing",
  "Suspended",
  "Ready",
  "Active",
  "Pausing",
  "Paused",
  "Completing",
  "Complete",
  "Cancelling",
  "Cancelled",
  "Failing",
  "Failed",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ["Complete", "Cancelled", "Failed"];
/** Dispatch is preparing the job (or is about to start it): poll watches the dispatch step. */
export const PREPARING_STATUSES: readonly JobStatus[] = ["New", "Preparing", "Ready"];
/** Children run (or drain after a cancel or a failure): poll watches the children. */
export const RUNNING_STATUSES: readonly JobStatus[] = ["Active", "Cancelling", "Failing"];
/** No child has started: a cancel ends the job at once. */
export const UNSTARTED_STATUSES: readonly JobStatus[] = ["New", "Preparing", "Suspended", "Ready"];
/** Children may be running or paused: a cancel lets them drain (Cancelling). */
export const STARTED_STATUSES: readonly JobStatus[] = ["Active", "Pausing", "Paused"];

/** Status changes that are sent as notifications (as EventBridge sends AWS's). */
export const NOTIFIED_STATUSES: readonly JobStatus[] = [
  "Suspended",
  "Active",
  "Complete",
  "Failed",
  "Cancelled",
];

/** A job ID: what CreateJob makes, and every route, message and the CLI accept. */
export const JOB_ID_PATTERN = /^[a-zA-Z0-9\-_]{5,36}$/;

export interface FailureReason {
  FailureCode: string;
  FailureReason: string;
}

export interface Progress {
  total: number;
  succeeded: number;
  failed: number;
}

export interface ProgressSample {
  at: string;
  /** Tasks done (succeeded + failed) as progress counts them. */
  done: number;
  /** Rows each endpoint's children have been through. */
  byEndpoint: Record<string, number>;
}

/** Where a ManifestGenerator job's generated manifest was written (DescribeJob shows it). */
export interface GeneratedManifestDescriptor {
  Format: "S3InventoryReport_CSV_20211130";
  Location: { ObjectArn: string; ETag: string };
}

/** One status change, kept in the record itself: the change and its event are one write. */
export interface StatusEvent {
  status: JobStatus;
  at: string;
  statusUpdateReason?: string;
  failureReasons?: FailureReason[];
}

export interface JobRecord {
  schema: 1;
  accountId: string;
  jobId: string;
  status: JobStatus;
  /** The validated CreateJob request in AWS's field names (ClientRequestToken excluded). */
  request: Omit<CreateJobInput, "ClientRequestToken">;
  priority: number;
  /** The job's tags: CreateJob's Tags, then whatever Put/DeleteJobTagging set. */
  tags: { Key: string; Value: string }[];
  createdAt: string;
  /** When the job first entered each status: the operator's "what happened when". */
  phaseTimes: Partial<Record<JobStatus, string>>;
  /** Every status the job entered, in order, with why: at most one entry per transition. */
  history: StatusEvent[];
  progress: Progress;
  failureReasons: FailureReason[];
  statusUpdateReason?: string;
  terminationDate?: string;
  /** Recent progress samples (poll adds one when progress moves): the progress route's rate. */
  samples?: ProgressSample[];
  generatedManifest?: GeneratedManifestDescriptor;
  /** A survey job (operations/survey.ts): the job it surveys. */
  surveyOf?: string;
  /** Where CreateJob came from: the aws:SourceIp the job's role is evaluated with. */
  origin?: { sourceIp?: string };
  /** Children given up (AttemptsExhausted) per endpoint: the count its FailureReason states. */
  exhaustedShards?: Record<string, number>;
}

/** A job's first record, as CreateJob (or a survey) writes it: New, with nothing done yet. */
export function newJobRecord(
  ref: { accountId: string; jobId: string },
  request: JobRecord["request"],
  createdAt: string,
  extra: Partial<Pick<JobRecord, "tags" | "origin" | "surveyOf">> = {},
): JobRecord {
  return {
    schema: 1,
    accountId: ref.accountId,
    jobId: ref.jobId,
    status: "New",
    request,
    priority: request.Priority,
    tags: request.Tags ?? [],
    createdAt,
    phaseTimes: { New: createdAt },
    history: [{ status: "New", at: createdAt }],
    progress: { total: 0, succeeded: 0, failed: 0 },
    failureReasons: [],
    ...extra,
  };
}
