// What an operation is: a function from one task row on one endpoint to an outcome.
import { HeadObjectCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { Context } from "../context.ts";
import type { GatewayCapabilities } from "../endpoints/capabilities.ts";
import type { EndpointClients } from "../endpoints/clients.ts";
import type { Routing } from "../endpoints/routing.ts";
import { S3BatchError } from "../errors.ts";
import type { JobRecord } from "../jobs/model.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { classifyError, type ErrorClass } from "../retry/policy.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import type { Settings } from "../settings.ts";
import type { JsonStore } from "../store/json-store.ts";
import type { IntentJournal } from "./intents.ts";

export type TaskOutcome =
  /** The object is not on this endpoint: its bit stays clear in the valid bitmap. */
  | { kind: "missing" }
  | { kind: "succeeded"; message: string }
  /** `cause` says whether the error was about the endpoint (retried) or final (reported). */
  | { kind: "failed"; http: number; code: string; message: string; cause?: ErrorClass };

/** What an operation may use besides its row: its endpoint, the others, and where buckets live. */
export interface TaskContext {
  endpointId: string;
  s3: S3Client;
  gateways: EndpointClients;
  routing: Routing;
  settings: Settings;
  job: { accountId: string; jobId: string };
  /** Fires when the step must stop (its budget ran out, or its lease was lost). */
  signal: AbortSignal;
  /** Intents recorded before effects a re-run could not recognise (operations/intents.ts). */
  intents: IntentJournal;
  /** The control store's clock (epoch ms): when an upload was registered. */
  now: () => number;
  /** This endpoint's capability table, when the operation's `prepare` asked for it. */
  capabilities?: GatewayCapabilities;
}

/**
 * A task stopped part-way by its step's signal: it has no outcome yet, its progress is in the
 * intent journal, and the step's next attempt resumes it.
 */
export class HandOverError extends S3BatchError {}

export interface Operation {
  /** Runs on every endpoint holding the object, or only on the first that holds it. */
  placement: "every" | "first";
  /** A bucket its tasks write to besides the rows' own, routed with the manifest's (a copy's target). */
  targetBucket?: string;
  /** The task's outcome; throws HandOverError when `t.signal` stopped it part-way. */
  run(t: TaskContext, row: TaskRow): Promise<TaskOutcome>;
  /**
   * Before a child's first task: what its tasks are asked of the job's role, how a refused one
   * reads, and what else its tasks see. Without it: the operation's own permissions, and 403
   * AccessDenied. (The survey asks for the permissions of the job it surveys, and predicts.)
   */
  prepare?(ctx: Pick<Context, "store">, job: JobRecord, endpointId: string): Promise<Preparation>;
  /** Sums every report row as the merge meets them, kept in the merge's checkpoint (the survey's). */
  tally?(job: JobRecord, routing: Routing, saved: unknown): RowTally;
}

export interface Preparation {
  /** The operation whose permissions each task needs. */
  needsOf: OperationSpec;
  /** A refused task's outcome; `message` names role, action and resource. */
  refused?: (message: string) => TaskOutcome;
  capabilities?: GatewayCapabilities;
}

/** A merge-side reducer over the report's rows. */
export interface RowTally {
  /** One manifest row: what each endpoint's task said, in routing order. */
  row(bucket: string, seen: { endpointId: string; message: string | undefined }[]): void;
  /** What it summed so far: saved at a handover, given back as `saved`. */
  toJSON(): unknown;
  /** The report is written: keeps what it summed. */
  finish(store: JsonStore): Promise<void>;
}

const MISSING_CODES = new Set(["NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound"]);

/** Maps an SDK error to a task outcome: absent objects are missing, the rest are failures. */
export function outcomeFromError(err: unknown): TaskOutcome {
  if (err instanceof S3ServiceException) {
    const http = err.$metadata.httpStatusCode ?? 500;
    if (MISSING_CODES.has(err.name) || (http === 404 && err.name !== "MethodNotAllowed"))
      return { kind: "missing" };
    return {
      kind: "failed",
      http,
      code: err.name,
      message: oneLine(err.message || err.name),
      cause: classifyError(err),
    };
  }
  // A reply the SDK could not parse (moto answers some 404s with an HTML page) keeps its status.
  const status = (err as { $response?: { statusCode?: number } })?.$response?.statusCode;
  if (status === 404) return { kind: "missing" };
  const e = err as Error;
  return {
    kind: "failed",
    http: status ?? 500,
    code: e?.name || "InternalError",
    message: oneLine(e?.message || String(err)),
    cause: classifyError(err),
  };
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").slice(0, 1024);

export const SUCCESSFUL: TaskOutcome = { kind: "succeeded", message: "Successful" };

/** The object a row names, in the S3 commands' terms. */
export const objectOf = (row: TaskRow) => ({ Bucket: row.bucket, Key: row.key, VersionId: row.versionId });

/**
 * An operation that changes the object in place with one S3 call, on every endpoint holding it.
 * Success is "Successful", errors map through outcomeFromError, and `alsoSuccess` names error
 * codes that mean the task's goal is already met. A server error is checked with a HeadObject:
 * some gateways answer a call on an absent key with a 500 (moto, for DeleteObjectTagging), and an
 * absent object is "missing", not a failure.
 */
export function inPlaceOperation(
  call: (s3: S3Client, object: ReturnType<typeof objectOf>) => Promise<unknown>,
  alsoSuccess: readonly string[] = [],
): Operation {
  return {
    placement: "every",
    run: async ({ s3 }, row) => {
      try {
        await call(s3, objectOf(row));
        return SUCCESSFUL;
      } catch (err) {
        if (err instanceof S3ServiceException && alsoSuccess.includes(err.name)) return SUCCESSFUL;
        const outcome = outcomeFromError(err);
        if (outcome.kind === "failed" && outcome.cause === "server" && !(await objectExists(s3, row)))
          return { kind: "missing" };
        return outcome;
      }
    },
  };
}

/** Whether the row's object is on the endpoint; only a 404 says no. */
export async function objectExists(s3: S3Client, row: TaskRow): Promise<boolean> {
  try {
    return await objectPresent(s3, row);
  } catch {
    return true;
  }
}

/** true for 200, false for 404; any other answer or failure is thrown (a caller may retry it). */
export async function objectPresent(s3: S3Client, row: TaskRow): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand(objectOf(row)));
    return true;
  } catch (err) {
    if (outcomeFromError(err).kind === "missing") return false;
    throw err;
  }
}
