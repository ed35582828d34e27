// HTTP → api: the S3 Control job API. On Lambda behind an API Gateway HTTP API.
import { getConnInfo, handle } from "hono/aws-lambda";
import { apiApp } from "../lib/handlers/api.ts";
import { fromEnv } from "../lib/lambda.ts";

export const handler = fromEnv(
  "api",
  (ctx) => handle(apiApp(ctx, getConnInfo)) as (event: unknown) => Promise<unknown>,
);
