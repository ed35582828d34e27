// The one retry loop for calls to a gateway, under the retry policy (policy.ts) and the endpoint's
// outage window (availability.ts). Throttling, unreachability and server errors are retried with
// back-off while the endpoint's outage lasts less than the window; a server error that persists
// while the endpoint answers other requests is about the object, not the endpoint. Tasks use it
// through children/task-runner.ts (an outcome per try); routing, manifest reads and report writes
// through withEndpointRetry (a call that throws).
import { StoppedError } from "../errors.ts";
import type { EndpointAvailability } from "./availability.ts";
import { backoffMs, classifyError, type ErrorClass, SERVER_ERROR_ATTEMPTS, sleep } from "./policy.ts";

/** One try's result: an answer (whatever it said), or a failure about the endpoint, with its class. */
export type Tried<T> = { answer: T } | { failure: Exclude<ErrorClass, "final">; message: string; last: T };

/** How the retries ended. */
export type Retried<T> =
  | { answer: T }
  /** The outage outlasted the window (or a server error persisted and nothing else answered). */
  | { gaveUp: "outage" | "server"; last: T }
  /** The signal fired while waiting: nothing to report, the next attempt runs it. */
  | { stopped: true; last: T | undefined };

export interface RetryOptions {
  signal?: AbortSignal;
  /** After persistent server errors: does the endpoint answer anything else? Then they are the object's. */
  probe?: () => Promise<boolean>;
  /** While the endpoint has been away a while, wait once before the first try rather than pile in. */
  politeStart?: boolean;
}

/** Tries until an answer, the end of the outage window, or the signal. `tryOnce` undefined: stop now. */
export async function retryWhileAvailable<T>(
  endpoint: EndpointAvailability,
  tryOnce: () => Promise<Tried<T> | undefined>,
  o: RetryOptions = {},
): Promise<Retried<T> | undefined> {
  let firstFailure: number | undefined;
  let last: T | undefined;
  for (let n = 1; ; n++) {
    if (o.signal?.aborted) return { stopped: true, last };
    if (n === 1 && o.politeStart && endpoint.downFor() > 1_000 && !endpoint.exceeded()) {
      await sleep(backoffMs(1, "unavailable"), o.signal);
      if (o.signal?.aborted) return { stopped: true, last };
    }
    const tried = await tryOnce();
    if (tried === undefined) return undefined;
    if ("answer" in tried) {
      endpoint.answered();
      return tried;
    }
    last = tried.last;
    firstFailure ??= Date.now();
    if (tried.failure === "server" && n >= SERVER_ERROR_ATTEMPTS) {
      if (endpoint.answeredSince(firstFailure) || (await o.probe?.())) {
        endpoint.answered();
        return { answer: tried.last };
      }
      if (!o.probe) return { gaveUp: "server", last: tried.last };
    }
    endpoint.failed(tried.message);
    if (endpoint.exceeded()) return { gaveUp: "outage", last: tried.last };
    await sleep(backoffMs(n, tried.failure), o.signal);
  }
}

/** One call to a gateway that is not a task's: its answer, or its last error thrown. */
export async function withEndpointRetry<T>(
  availability: EndpointAvailability,
  call: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const out = await retryWhileAvailable<{ value?: T; error?: unknown }>(
    availability,
    async () => {
      try {
        return { answer: { value: await call() } };
      } catch (error) {
        const cls = classifyError(error);
        if (cls === "final") return { answer: { error } };
        return { failure: cls, message: (error as Error).message ?? String(error), last: { error } };
      }
    },
    signal ? { signal } : {},
  );
  const result = out && ("answer" in out ? out.answer : out.last);
  if (result === undefined)
    throw signal?.reason ?? new StoppedError("the call was stopped before it was tried");
  if ("error" in result) throw result.error;
  return result.value as T;
}
