// What an operation is: a function from one task row on one endpoint to an outcome.
import { type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { EndpointClients } from "../endpoints/clients.ts";
import type { Routing } from "../endpoints/routing.ts";
import type { TaskRow } from "../manifest/rows.ts";
import type { Settings } from "../settings.ts";

export type TaskOutcome =
  /** The object is not on this endpoint: its bit stays clear in the valid bitmap. */
  | { kind: "missing" }
  | { kind: "succeeded"; message: string }
  | { kind: "failed"; http: number; code: string; message: string };

/** What an operation may use besides its row: its endpoint, the others, and where buckets live. */
export interface TaskContext {
  endpointId: string;
  s3: S3Client;
  gateways: EndpointClients;
  routing: Routing;
  settings: Settings;
  job: { accountId: string; jobId: string };
}

export interface Operation {
  /** Runs on every endpoint holding the object, or only on the first that holds it. */
  placement: "every" | "first";
  run(t: TaskContext, row: TaskRow): Promise<TaskOutcome>;
}

const MISSING_CODES = new Set(["NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound"]);

/** Maps an SDK error to a task outcome: absent objects are missing, the rest are failures. */
export function outcomeFromError(err: unknown): TaskOutcome {
  if (err instanceof S3ServiceException) {
    const http = err.$metadata.httpStatusCode ?? 500;
    if (MISSING_CODES.has(err.name) || (http === 404 && err.name !== "MethodNotAllowed"))
      return { kind: "missing" };
    return { kind: "failed", http, code: err.name, message: oneLine(err.message || err.name) };
  }
  const e = err as Error;
  return {
    kind: "failed",
    http: 500,
    code: e?.name || "InternalError",
    message: oneLine(e?.message || String(err)),
  };
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").slice(0, 1024);

export const SUCCESSFUL: TaskOutcome = { kind: "succeeded", message: "Successful" };

/**
 * Runs one S3 call as a task: success is "Successful", errors map through outcomeFromError, and
 * `alsoSuccess` names error codes that mean the task's goal is already met.
 */
export async function taskOutcome(
  call: () => Promise<unknown>,
  alsoSuccess: readonly string[] = [],
): Promise<TaskOutcome> {
  try {
    await call();
    return SUCCESSFUL;
  } catch (err) {
    if (err instanceof S3ServiceException && alsoSuccess.includes(err.name)) return SUCCESSFUL;
    return outcomeFromError(err);
  }
}
