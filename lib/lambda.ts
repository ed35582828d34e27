// Builds a handler on first use from the environment, so a Lambda (or Deno) cold start pays for
// settings and clients once per instance.
import { type Context, createContext } from "./context.ts";
import { readEnv } from "./env.ts";
import { loadSettings } from "./settings.ts";

export function fromEnv<E, R>(component: string, make: (ctx: Context) => (event: E) => Promise<R>) {
  let handler: ((event: E) => Promise<R>) | undefined;
  return (event: E): Promise<R> => {
    handler ??= make(createContext(loadSettings(readEnv()), component));
    return handler(event);
  };
}
