// Retry policy, in one place: how an error is classified, how long to wait before trying again,
// how often the AWS SDK retries on its own, and when a failed queue message comes back.
//
//   throttled    503 SlowDown, 429, throttling codes: back off and retry; never about the object
//   unavailable  connection refused or reset, timeouts, dropped streams: the endpoint is away
//   server       500, 502, 504: retried a few times; if the endpoint answers other requests
//                meanwhile, the error is about this object and becomes the task's outcome
//   final        any other answer (4xx, a validation error): about the request, never retried

import { ConfiguredRetryStrategy } from "@smithy/core/retry";

export type ErrorClass = "throttled" | "unavailable" | "server" | "final";

const THROTTLE_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "ProvisionedThroughputExceededException",
  "ServiceUnavailable",
]);

const UNAVAILABLE_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "BudgetUnavailable",
]);

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

const NETWORK_MESSAGE =
  /socket hang up|ECONNRESET|ECONNREFUSED|premature close|network|fetch failed|aborted/i;

interface ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

/** The HTTP status an SDK error carries (also for replies the SDK could not parse), if any. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as ErrorShape | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

/** Classifies an error from any SDK call or fetch. */
export function classifyError(err: unknown): ErrorClass {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; e = e.cause as ErrorShape, depth++) {
    const status = httpStatusOf(e);
    if ((e.name && THROTTLE_NAMES.has(e.name)) || status === 429 || status === 503) return "throttled";
    if (e.name && UNAVAILABLE_NAMES.has(e.name)) return "unavailable";
    if (status !== undefined && status >= 500) return "server";
    if (status !== undefined) return "final";
    if (e.code && NETWORK_CODES.has(e.code)) return "unavailable";
    if (typeof e.message === "string" && NETWORK_MESSAGE.test(e.message) && !e.$metadata)
      return "unavailable";
    if (typeof e !== "object") break;
  }
  return "final";
}

const TIMEOUT_CODES = new Set([
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Whether an error says the gateway is loaded rather than away: a throttle, or a request that
 * timed out. A refused or reset connection says the endpoint is away or faulty, which its outage
 * window handles; it is no reason to send less.
 */
export function isLoadSignal(err: unknown, cls: ErrorClass = classifyError(err)): boolean {
  if (cls === "throttled") return true;
  if (cls !== "unavailable") return false;
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; e = e.cause as ErrorShape, depth++) {
    if (
      (e.name && UNAVAILABLE_NAMES.has(e.name) && e.name !== "BudgetUnavailable") ||
      (e.code && TIMEOUT_CODES.has(e.code))
    )
      return true;
    if (typeof e !== "object") break;
  }
  return false;
}

const BACKOFF: Record<Exclude<ErrorClass, "final">, { baseMs: number; capMs: number }> = {
  throttled: { baseMs: 200, capMs: 5_000 },
  unavailable: { baseMs: 500, capMs: 10_000 },
  server: { baseMs: 200, capMs: 3_000 },
};

/**
 * The wait before try number `attempt + 1` (attempt ≥ 1): exponential, capped, with "equal
 * jitter" (half fixed, half random), so that many waiters never retry in step.
 */
export function backoffMs(attempt: number, cls: Exclude<ErrorClass, "final">, random = Math.random): number {
  const { baseMs, capMs } = BACKOFF[cls];
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Tries of a task that hits server errors before the error may count as the object's own. */
export const SERVER_ERROR_ATTEMPTS = 4;

/**
 * The SDK's own retries of one request. Gateways: three quick tries with this policy's back-off
 * (a replayable part is not re-sent from scratch); after that the task runner or
 * withEndpointRetry take over, with the endpoint's outage window.
 */
export const gatewaySdkRetry = () => ({
  retryStrategy: new ConfiguredRetryStrategy(3, (attempt: number) => backoffMs(attempt, "throttled")),
});
/**
 * The control endpoint (internal bucket and queues): enough tries (about 45 s of exponential
 * back-off) to ride out a restart, after which the message itself is redelivered.
 */
export const CONTROL_SDK_RETRY = { maxAttempts: 10, retryMode: "standard" } as const;

/**
 * A conditional write that lost its race reads again and decides again: this many times, waiting
 * a little longer (with jitter) each time, so writers that collide do not collide again in step.
 */
export const CONFLICT_RETRY = { attempts: 8, baseMs: 10, capMs: 400 } as const;

export function conflictBackoffMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(CONFLICT_RETRY.capMs, CONFLICT_RETRY.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

/** The wait before a notification's next try after `tries` failed ones: doubling from 1 s, capped. */
export const notifyRetryDelayMs = (tries: number, capSeconds: number) =>
  Math.min(capSeconds * 1000, 1000 * 2 ** Math.max(0, tries - 1));

/** When a failed queue message comes back: 2 s doubling per receive, at most 5 minutes. */
export function redeliveryDelaySeconds(receiveCount: number, random = Math.random): number {
  const ceiling = Math.min(300, 2 * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}

/** Waits `ms`, or less if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
