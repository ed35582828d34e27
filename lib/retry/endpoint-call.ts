// One call to a gateway under the retry policy, for the calls that are not a task's: routing a
// bucket, reading the manifest, writing the report. Throttling, unreachability and server errors
// are retried with back-off while the endpoint's outage lasts less than the window; then (or on
// any other error) the error is thrown to the caller.
import type { EndpointAvailability } from "../endpoints/availability.ts";
import { backoffMs, classifyError, SERVER_ERROR_ATTEMPTS, sleep } from "./policy.ts";

export async function withEndpointRetry<T>(
  availability: EndpointAvailability,
  call: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      const out = await call();
      availability.answered();
      return out;
    } catch (err) {
      const cls = classifyError(err);
      if (cls === "final") {
        availability.answered();
        throw err;
      }
      if (cls === "server" && n >= SERVER_ERROR_ATTEMPTS) throw err;
      availability.failed((err as Error).message ?? String(err));
      if (availability.exceeded() || signal?.aborted) throw err;
      await sleep(backoffMs(n, cls), signal);
    }
  }
}
