// Runtime settings read from the environment, each with a default and a bound.

import { type ApiKey, parseApiKeys } from "./auth/keys.ts";
import { parseRoles, type Role } from "./auth/roles.ts";
import { type Endpoint, parseEndpoints } from "./endpoints/config.ts";
import { readTextFile } from "./env.ts";
import { ConfigError } from "./errors.ts";
import type { QueueUrls } from "./steps/queue.ts";

export interface Settings {
  endpoints: Endpoint[];
  /** Keys the API accepts, each bound to one account (S3BATCH_API_KEYS). */
  apiKeys: ApiKey[];
  /** The roles jobs and routes act as (S3BATCH_ROLES or S3BATCH_ROLES_FILE). */
  roles: Role[];
  /**
   * The control plane: the internal bucket's S3 endpoint (`endpoint`) and the queues' SQS endpoint
   * (`sqsEndpoint`), both AWS_ENDPOINT_URL unless AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL_SQS say
   * otherwise (an on-prem control plane: ElasticMQ and a real gateway).
   */
  control: { endpoint?: string; sqsEndpoint?: string; region: string };
  internalBucket: string;
  queues: QueueUrls;
  /** Manifest rows per shard; a shard is the unit of work of one child on one endpoint. */
  shardRows: number;
  /** At most this many shards per job: a larger manifest gets larger shards. */
  maxShards: number;
  /** Rows between child checkpoints (and cancellation checks), at most. */
  checkpointRows: number;
  /** Bytes of results between child checkpoints, at most. */
  checkpointBytes: number;
  /** Seconds between child checkpoints (and cancellation checks), when no size made one due sooner. */
  checkpointSeconds: number;
  pollDelaySeconds: number;
  maxManifestRows: number;
  maxManifestBuckets: number;
  reportPartBytes: number;
  /** Same-gateway copies of objects above this size go part by part (UploadPartCopy). */
  copyMultipartThreshold: number;
  /** Smallest part of multipart copies (parts grow so that an object needs at most 10,000). */
  copyPartBytes: number;
  /** LambdaInvoke: FunctionArn → URL of an HTTP function (local runtime); others go to AWS Lambda. */
  lambdaFunctions: Record<string, string>;
  /** LambdaInvoke: invocations per task while the function answers TemporaryFailure. */
  lambdaAttempts: number;
  /** A step's lease: a holder that has not renewed it for this long is presumed gone. */
  leaseSeconds: number;
  /** How long an endpoint may be unavailable before its waiting tasks fail (503). */
  outageWindowSeconds: number;
  /** Per-object calls through the lean request path instead of the SDK's stack (S3BATCH_LEAN_REQUESTS). */
  leanRequests: boolean;
  /** How old a gateway's capability table may grow before it is probed again. */
  probeSeconds: number;
  /** Takes of a step (child, dispatch, merge) without progress before it is given up. */
  maxAttempts: number;
  /** One invocation's time where the runtime sets none (the local runtime); Lambda's is its own. */
  budgetSeconds: number;
  /** A step hands over to a fresh invocation this long before its budget ends (at most a quarter of it). */
  handoverMarginSeconds: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Job state notifications (lib/notify/notify.ts). */
  notify: {
    /** The target of every job that names none (S3BATCH_NOTIFY_URL). */
    url?: string;
    /** Signs webhook bodies (S3BATCH_NOTIFY_SECRET). */
    secret?: string;
    /** Targets a job may name, as URL prefixes (S3BATCH_NOTIFY_TARGETS, comma-separated; empty: any). */
    allowed: string[];
    /** SQS queue URLs a job may name as its target (S3BATCH_NOTIFY_QUEUES); no other queue is sent to. */
    queues: string[];
    /** Networks (CIDR) webhooks may reach although they are loopback, private or link-local. */
    allowNetworks: string[];
    /** The longest wait between two tries of one event. */
    maxDelaySeconds: number;
  };
}

function int(
  env: Record<string, string | undefined>,
  name: string,
  def: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}]`);
  return n;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(`${name} is not set`);
  return v;
}

/** A document given in `name` or in the file `${name}_FILE` names; undefined when neither is set. */
function document(
  env: Record<string, string | undefined>,
  name: string,
  readFile: (path: string) => string,
): string | undefined {
  if (env[name]) return env[name];
  const file = env[`${name}_FILE`];
  if (!file) return undefined;
  try {
    return readFile(file);
  } catch (err) {
    throw new ConfigError(`${name}_FILE ${file} cannot be read: ${(err as Error).message}`);
  }
}

function flag(env: Record<string, string | undefined>, name: string, def: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === "") return def;
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  throw new ConfigError(`${name} must be 1 or 0`);
}

const list = (raw: string | undefined) =>
  (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Reads settings, the same on every runtime. Endpoints come from S3BATCH_ENDPOINTS or the file
 * S3BATCH_ENDPOINTS_FILE names (a JSON or YAML document).
 */
export function loadSettings(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = readTextFile,
): Settings {
  const level = env.S3BATCH_LOG_LEVEL ?? "info";
  if (!["debug", "info", "warn", "error"].includes(level))
    throw new ConfigError("S3BATCH_LOG_LEVEL is not a level");
  const endpointsDoc = document(env, "S3BATCH_ENDPOINTS", readFile);
  if (!endpointsDoc) throw new ConfigError("S3BATCH_ENDPOINTS (or S3BATCH_ENDPOINTS_FILE) is not set");
  const endpoints = parseEndpoints(endpointsDoc, env);
  return {
    endpoints,
    apiKeys: parseApiKeys(document(env, "S3BATCH_API_KEYS", readFile), env),
    roles: parseRoles(
      document(env, "S3BATCH_ROLES", readFile),
      endpoints.map((e) => e.id),
    ),
    control: {
      ...((env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL)
        ? { endpoint: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL }
        : {}),
      ...((env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL)
        ? { sqsEndpoint: env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL }
        : {}),
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    },
    internalBucket: env.S3BATCH_INTERNAL_BUCKET ?? "s3batch-internal",
    queues: {
      dispatch: required(env, "S3BATCH_QUEUE_URL_DISPATCH"),
      child: required(env, "S3BATCH_QUEUE_URL_CHILD"),
      poll: required(env, "S3BATCH_QUEUE_URL_POLL"),
      merge: required(env, "S3BATCH_QUEUE_URL_MERGE"),
    },
    shardRows: int(env, "S3BATCH_SHARD_ROWS", 10_000, 1, 10_000_000),
    maxShards: int(env, "S3BATCH_MAX_SHARDS", 10_000, 1, 100_000),
    checkpointRows: int(env, "S3BATCH_CHECKPOINT_ROWS", 10_000, 1, 1_000_000),
    checkpointBytes: int(env, "S3BATCH_CHECKPOINT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    checkpointSeconds: int(env, "S3BATCH_CHECKPOINT_SECONDS", 3, 1, 3_600),
    pollDelaySeconds: int(env, "S3BATCH_POLL_DELAY_SECONDS", 2, 0, 900),
    maxManifestRows: int(env, "S3BATCH_MAX_MANIFEST_ROWS", 4_294_967_295, 1, 4_294_967_295),
    maxManifestBuckets: int(env, "S3BATCH_MAX_MANIFEST_BUCKETS", 1_000, 1, 100_000),
    reportPartBytes: int(
      env,
      "S3BATCH_REPORT_PART_BYTES",
      8 * 1024 * 1024,
      5 * 1024 * 1024,
      512 * 1024 * 1024,
    ),
    copyMultipartThreshold: int(
      env,
      "S3BATCH_COPY_MULTIPART_THRESHOLD",
      5 * 1024 ** 3,
      5 * 1024 * 1024,
      5 * 1024 ** 3,
    ),
    copyPartBytes: int(env, "S3BATCH_COPY_PART_BYTES", 5 * 1024 * 1024, 5 * 1024 * 1024, 5 * 1024 ** 3),
    lambdaFunctions: lambdaFunctions(env.S3BATCH_LAMBDA_FUNCTIONS),
    lambdaAttempts: int(env, "S3BATCH_LAMBDA_ATTEMPTS", 3, 1, 10),
    leaseSeconds: int(env, "S3BATCH_LEASE_SECONDS", 10, 3, 900),
    outageWindowSeconds: int(env, "S3BATCH_OUTAGE_WINDOW_SECONDS", 900, 1, 86_400),
    probeSeconds: int(env, "S3BATCH_PROBE_SECONDS", 3_600, 10, 604_800),
    leanRequests: flag(env, "S3BATCH_LEAN_REQUESTS", true),
    maxAttempts: int(env, "S3BATCH_MAX_ATTEMPTS", 5, 1, 100),
    budgetSeconds: int(env, "S3BATCH_BUDGET_SECONDS", 840, 1, 86_400),
    handoverMarginSeconds: int(env, "S3BATCH_HANDOVER_MARGIN_SECONDS", 60, 0, 3_600),
    logLevel: level as Settings["logLevel"],
    notify: {
      ...(env.S3BATCH_NOTIFY_URL ? { url: env.S3BATCH_NOTIFY_URL } : {}),
      ...(env.S3BATCH_NOTIFY_SECRET ? { secret: env.S3BATCH_NOTIFY_SECRET } : {}),
      allowed: list(env.S3BATCH_NOTIFY_TARGETS),
      queues: list(env.S3BATCH_NOTIFY_QUEUES),
      allowNetworks: list(env.S3BATCH_NOTIFY_ALLOW_NETWORKS),
      maxDelaySeconds: int(env, "S3BATCH_NOTIFY_MAX_DELAY_SECONDS", 60, 1, 3_600),
    },
  };
}

/** S3BATCH_LAMBDA_FUNCTIONS: a JSON object from FunctionArn to an http(s) URL, at most 100. */
function lambdaFunctions(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new ConfigError("S3BATCH_LAMBDA_FUNCTIONS is not JSON");
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError("S3BATCH_LAMBDA_FUNCTIONS must be an object");
  const entries = Object.entries(doc);
  if (entries.length > 100) throw new ConfigError("S3BATCH_LAMBDA_FUNCTIONS maps at most 100 functions");
  for (const [arn, url] of entries) {
    if (typeof url !== "string" || !/^https?:\/\/[^\s]{1,2000}$/.test(url) || arn.length > 2048)
      throw new ConfigError("S3BATCH_LAMBDA_FUNCTIONS maps each FunctionArn to an http(s) URL");
  }
  return doc as Record<string, string>;
}
