// Runs one task under the retry policy (retry/policy.ts). An outcome caused by the endpoint
// (throttled, unreachable, failing) is not the task's result: the runner backs off and tries
// again for as long as the endpoint's outage lasts, and only when the outage outlasts the window
// does the task fail, with 503 ServiceUnavailable naming the endpoint. A server error that
// persists while the endpoint answers other requests is the object's own and is reported as is.
// When `stop` fires (the time budget ran out, or the lease was lost) a waiting task gives up
// without an outcome: it was not done, and the next attempt runs it.
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import type { EndpointClient } from "../endpoints/clients.ts";
import type { TaskOutcome } from "../operations/types.ts";
import { backoffMs, classifyError, SERVER_ERROR_ATTEMPTS, sleep } from "../retry/policy.ts";

/**
 * The task's outcome, or undefined when `stop` fired before it had one (an attempt answers
 * undefined when it stopped part-way: a long copy handing over, to be resumed).
 */
export async function runTask(
  gw: Pick<EndpointClient, "limit" | "availability">,
  stop: AbortSignal,
  attempt: () => Promise<TaskOutcome | undefined>,
  probe: () => Promise<boolean>,
): Promise<TaskOutcome | undefined> {
  const endpoint = gw.availability;
  let firstFailure: number | undefined;
  for (let n = 1; ; n++) {
    if (stop.aborted) return undefined;
    // While the endpoint has been away for a while (not a passing throttle), a task does not pile in.
    if (n === 1 && endpoint.downFor() > 1_000 && !endpoint.exceeded()) {
      await sleep(backoffMs(1, "unavailable"), stop);
      if (stop.aborted) return undefined;
    }
    const outcome = await gw.limit(attempt);
    if (outcome === undefined) return undefined;
    const cause = outcome.kind === "failed" ? outcome.cause : undefined;
    if (cause === undefined || cause === "final") {
      endpoint.answered();
      return outcome;
    }
    firstFailure ??= Date.now();
    if (cause === "server" && n >= SERVER_ERROR_ATTEMPTS) {
      // Does the endpoint answer anything else? Then this error is about the object.
      if (endpoint.answeredSince(firstFailure) || (await probe())) {
        endpoint.answered();
        return outcome;
      }
    }
    endpoint.failed(outcome.kind === "failed" ? `${outcome.code}: ${outcome.message}` : "failed");
    if (endpoint.exceeded()) return endpoint.outcome();
    await sleep(backoffMs(n, cause), stop);
  }
}

/** Whether the endpoint answers at all: a HeadBucket that gets any reply but a server error. */
export async function probeBucket(gw: Pick<EndpointClient, "s3">, bucket: string): Promise<boolean> {
  try {
    await gw.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    return classifyError(err) === "final";
  }
}
