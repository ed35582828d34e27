// Builds a handler on first use from the environment, so a Lambda (or Deno) cold start pays for
// settings and clients once per instance. Lambda's context (the invocation's remaining time)
// is passed on: it is the steps' time budget.
import { type Context, createContext } from "./context.ts";
import { readEnv } from "./env.ts";
import { loadSettings } from "./settings.ts";

export function fromEnv<E, R, C>(
  component: string,
  make: (ctx: Context) => (event: E, context?: C) => Promise<R>,
) {
  let handler: ((event: E, context?: C) => Promise<R>) | undefined;
  return (event: E, context?: C): Promise<R> => {
    handler ??= make(createContext(loadSettings(readEnv()), component));
    return handler(event, context);
  };
}
