// Builds a handler on first use from the environment, so a Lambda (or Deno) cold start pays for
// settings and clients once per instance. Lambda's context (the invocation's remaining time)
// is passed on: it is the steps' time budget. An instance's first invocation proves the control
// store honours conditional writes (store/probe.ts); until it has, no invocation runs, and a store
// that failed the proof fails every invocation with the reason.
import type { Context } from "./context.ts";
import { createContext, proveControlStore } from "./create-context.ts";
import { readEnv } from "./env.ts";
import { loadSettings } from "./settings.ts";
import { UntrustedStoreError } from "./store/probe.ts";

export function fromEnv<E, R, C>(
  component: string,
  make: (ctx: Context) => (event: E, context?: C) => Promise<R>,
) {
  let built: { ctx: Context; handler: (event: E, context?: C) => Promise<R> } | undefined;
  let proven: Promise<void> | undefined;
  return async (event: E, context?: C): Promise<R> => {
    if (!built) {
      const ctx = createContext(loadSettings(readEnv()), component);
      built = { ctx, handler: make(ctx) };
    }
    const { ctx, handler } = built;
    proven ??= proveControlStore(ctx).catch((err) => {
      // A store that is down may be proven by the next invocation; one that failed the proof never is.
      if (!(err instanceof UntrustedStoreError)) proven = undefined;
      ctx.log.error("control store not proven", { message: (err as Error).message });
      throw err;
    });
    await proven;
    return handler(event, context);
  };
}
