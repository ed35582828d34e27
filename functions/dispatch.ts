// SQS → dispatch: prepare a new job and start it.
import { dispatchHandler } from "../lib/handlers/dispatch.ts";
import { fromEnv } from "../lib/lambda.ts";

export const handler = fromEnv("dispatch", dispatchHandler);
