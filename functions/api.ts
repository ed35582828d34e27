// HTTP → api: the S3 Control job API. On Lambda behind an API Gateway HTTP API.
import { handle } from "hono/aws-lambda";
import { createApp } from "../lib/api/app.ts";
import type { Context } from "../lib/context.ts";
import { fromEnv } from "../lib/lambda.ts";

export const makeApiApp = (ctx: Context) => createApp(ctx);

export const handler = fromEnv(
  "api",
  (ctx) => handle(makeApiApp(ctx)) as (event: unknown) => Promise<unknown>,
);
