// What the API's routes are handed (the app's Hono environment and its dependencies), apart from
// the app so the route modules share it without importing each other.
import type { Context as HonoContext } from "hono";
import type { ApiKey } from "../auth/keys.ts";
import type { Context as AppDeps } from "../context.ts";
import type { Presented } from "./sigv4.ts";

export type ApiEnv = {
  /**
   * `bytes`: the request body, read once (the signature covers it); `key`: the key that signed
   * the request; `sourceIp`: the client's address as the runtime saw it (aws:SourceIp).
   */
  Variables: {
    requestId: string;
    accountId: string;
    bytes: Uint8Array;
    key: ApiKey;
    presented: Presented;
    sourceIp?: string;
  };
};
export type ApiDeps = Pick<AppDeps, "store" | "queue" | "log" | "settings" | "gateways" | "auth"> & {
  /** The client's address, from the runtime adapter (Node's socket, Lambda's requestContext, Deno's). */
  clientAddress?: (c: HonoContext) => string | undefined;
};
