// A bounded number of tries of something that answers "again" while it should be retried: a Lambda
// function answering TemporaryFailure, SQS refusing some entries of a batch. Waits between tries
// with the policy's back-off for the class given (policy.ts); the last "again" is the answer.
import { backoffMs, type ErrorClass, sleep } from "./policy.ts";

export type Tried<T> = { final: T } | { again: T };

export async function retryAttempts<T>(
  attempts: number,
  cls: Exclude<ErrorClass, "final">,
  tryOnce: (attempt: number) => Promise<Tried<T>>,
  signal?: AbortSignal,
): Promise<{ value: T; final: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const tried = await tryOnce(attempt);
    if ("final" in tried) return { value: tried.final, final: true };
    if (attempt >= attempts || signal?.aborted) return { value: tried.again, final: false };
    await sleep(backoffMs(attempt, cls), signal);
  }
}
