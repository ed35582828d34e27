// Runs one task under the retry policy (retry/endpoint-call.ts). An outcome caused by the endpoint
// (throttled, unreachable, failing) is not the task's result: the runner backs off and tries
// again for as long as the endpoint's outage lasts, and only when the outage outlasts the window
// does the task fail, with 503 ServiceUnavailable naming the endpoint. A server error that
// persists while the endpoint answers other requests is the object's own and is reported as is.
// When `stop` fires (the time budget ran out, or the lease was lost) a waiting task gives up
// without an outcome: it was not done, and the next attempt runs it.
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import type { EndpointClient } from "../endpoints/clients.ts";
import type { TaskOutcome } from "../operations/types.ts";
import { retryWhileAvailable } from "../retry/endpoint-call.ts";
import { classifyError } from "../retry/policy.ts";

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
  // Past the window, while other tasks' tries still fail, a task that gets its slot fails untried
  // rather than send a request that would fail too.
  let untried = false;
  const out = await retryWhileAvailable<TaskOutcome>(
    gw.availability,
    async () => {
      const outcome = await gw.limit(() => {
        untried = gw.availability.exceededAndFailing();
        return untried ? Promise.resolve(undefined) : attempt();
      });
      if (outcome === undefined) return undefined;
      const cause = outcome.kind === "failed" ? outcome.cause : undefined;
      if (outcome.kind !== "failed" || cause === undefined || cause === "final") return { answer: outcome };
      return { failure: cause, message: `${outcome.code}: ${outcome.message}`, last: outcome };
    },
    { signal: stop, probe, politeStart: true },
  );
  if (untried) return outageOutcome(gw);
  if (!out || "stopped" in out) return undefined;
  if ("answer" in out) return out.answer;
  return outageOutcome(gw);
}

const outageOutcome = (gw: Pick<EndpointClient, "availability">): TaskOutcome => ({
  kind: "failed",
  http: 503,
  code: "ServiceUnavailable",
  // The report prefixes "endpoint <id>: ".
  message: gw.availability.outageMessage(),
});

/** Whether the endpoint answers at all: a HeadBucket that gets any reply but a server error. */
export async function probeBucket(gw: Pick<EndpointClient, "s3">, bucket: string): Promise<boolean> {
  try {
    await gw.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    return classifyError(err) === "final";
  }
}
