// SQS → child: run the job's operation over one shard on one endpoint.
import { childHandler } from "../lib/handlers/child.ts";
import { fromEnv } from "../lib/lambda.ts";

export const handler = fromEnv("child", childHandler);
