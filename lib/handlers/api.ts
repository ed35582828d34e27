// The api function's handler factory: the S3 Control job API as a Hono app. The runtime adapter
// says how to find the client's address (its connection info helper), for aws:SourceIp.
import type { Context as HonoContext } from "hono";
import { createApp } from "../api/app.ts";
import type { Context } from "../context.ts";

type ConnInfo = (c: HonoContext) => { remote: { address?: string } };

export const apiApp = (ctx: Context, connInfo?: ConnInfo) =>
  createApp({
    ...ctx,
    ...(connInfo
      ? {
          clientAddress: (c: HonoContext) => {
            try {
              return connInfo(c).remote.address;
            } catch {
              return undefined; // a request made in-process (app.request) has no connection
            }
          },
        }
      : {}),
  });
