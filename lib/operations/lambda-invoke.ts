// LambdaInvoke: one invocation per task (the first endpoint holding the object), in AWS's
// invocation schema 1.0 or 2.0 (2.0 carries UserArguments and the bucket name). The function
// answers resultCode Succeeded, TemporaryFailure (retried, a bounded number of times, with
// back-off) or PermanentFailure, and its resultString goes into the report. A FunctionArn that
// S3BATCH_LAMBDA_FUNCTIONS maps to a URL is called over HTTP (a POST of the same JSON); any other
// is called with lambda:InvokeFunction.
import type { LambdaClient } from "@aws-sdk/client-lambda";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { S3BatchError } from "../errors.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { retryAttempts } from "../retry/attempts.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { type Operation, objectOf, outcomeFromError, type TaskContext, type TaskOutcome } from "./types.ts";

type LambdaSpec = NonNullable<OperationSpec["LambdaInvoke"]>;

const MAX_RESPONSE_BYTES = 256 * 1024;

/** An invocation that did not come back with a result: the task's TemporaryFailure. */
class InvokeError extends S3BatchError {}
const MAX_RESULT_STRING = 1024;

export type Invoker = (functionArn: string, payload: string) => Promise<string>;

/** Calls a function over HTTP: a POST of the invocation, the response body is its result. */
export function httpInvoker(url: string): Invoker {
  return async (_arn, payload) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: payload,
      signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new InvokeError(`the function answered HTTP ${res.status}`);
    }
    return readBounded(res.body);
  };
}

/** Reads a response body of at most MAX_RESPONSE_BYTES. */
async function readBounded(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      await body.cancel().catch(() => {});
      throw new InvokeError("the function's response is over 256 KiB");
    }
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

const lambdaClients = new Map<string, LambdaClient>();

/** Calls lambda:InvokeFunction (the SDK is loaded, and a client made per region, on first use). */
export function awsInvoker(region: string): Invoker {
  return async (arn, payload) => {
    const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
    let client = lambdaClients.get(region);
    if (!client) {
      client = new LambdaClient({ region });
      lambdaClients.set(region, client);
    }
    const out = await client.send(
      new InvokeCommand({ FunctionName: arn, Payload: new TextEncoder().encode(payload) }),
    );
    if (out.FunctionError) throw new InvokeError(`the function failed: ${out.FunctionError}`);
    return new TextDecoder().decode(out.Payload ?? new Uint8Array());
  };
}

/** The region in a function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(":")[3];
  return region && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(region) ? region : undefined;
}

function payload(spec: LambdaSpec, t: TaskContext, row: TaskRow, taskId: string): string {
  const v2 = spec.InvocationSchemaVersion === "2.0";
  const task = v2
    ? { taskId, s3Key: row.key, s3VersionId: row.versionId ?? null, s3Bucket: row.bucket }
    : {
        taskId,
        s3Key: row.key,
        s3VersionId: row.versionId ?? null,
        s3BucketArn: `arn:aws:s3:::${row.bucket}`,
      };
  return JSON.stringify({
    invocationSchemaVersion: v2 ? "2.0" : "1.0",
    invocationId: crypto.randomUUID(),
    job: { id: t.job.jobId, ...(v2 ? { userArguments: userArguments(spec) } : {}) },
    tasks: [task],
  });
}

const userArguments = (spec: LambdaSpec) =>
  Object.fromEntries((spec.UserArguments ?? []).map((e) => [e.key, e.value]));

type Result = { resultCode?: string; resultString?: string };

function parseResult(text: string, taskId: string): Result {
  const doc = JSON.parse(text) as { results?: (Result & { taskId?: string })[]; treatMissingKeysAs?: string };
  const r = doc.results?.find((x) => x.taskId === taskId) ?? doc.results?.[0];
  if (!r)
    return {
      resultCode: doc.treatMissingKeysAs ?? "PermanentFailure",
      resultString: "no result for the task",
    };
  return r;
}

/** A task's identity: its job and manifest row, stable across attempts and handovers. */
export const taskIdOf = (jobId: string, row: number) => `${jobId}-${row}`;

export function lambdaInvokeOperation(spec: LambdaSpec): Operation {
  return {
    placement: "first",
    run: async (t, row) => {
      try {
        await t.s3.send(new HeadObjectCommand(objectOf(row)));
      } catch (err) {
        return outcomeFromError(err);
      }
      const url = t.settings.lambdaFunctions[spec.FunctionArn];
      const invoke = url
        ? httpInvoker(url)
        : awsInvoker(regionOfArn(spec.FunctionArn) ?? t.settings.control.region);
      // The same for every attempt of the row: a function can tell a re-run from a new task.
      const taskId = taskIdOf(t.job.jobId, row.index);
      const out = await retryAttempts<TaskOutcome>(t.settings.lambdaAttempts, "server", async () => {
        let result: Result;
        try {
          result = parseResult(await invoke(spec.FunctionArn, payload(spec, t, row, taskId)), taskId);
        } catch (err) {
          result = { resultCode: "TemporaryFailure", resultString: (err as Error).message };
        }
        const message = String(result.resultString ?? "").slice(0, MAX_RESULT_STRING);
        if (result.resultCode === "Succeeded") return { final: { kind: "succeeded", message } };
        if (result.resultCode !== "TemporaryFailure")
          return { final: { kind: "failed", http: 400, code: "PermanentFailure", message } };
        return { again: { kind: "failed", http: 500, code: "TemporaryFailure", message } };
      });
      return out.value;
    },
  };
}
