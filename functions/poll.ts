// SQS → poll: the reconciler of every running job, and the consumer of the dead-letter queues.
import { pollHandler } from "../lib/handlers/poll.ts";
import { fromEnv } from "../lib/lambda.ts";

export const handler = fromEnv("poll", pollHandler);
