// The api function's handler factory: the S3 Control job API as a Hono app.
import { createApp } from "../api/app.ts";
import type { Context } from "../context.ts";

export const apiApp = (ctx: Context) => createApp(ctx);
