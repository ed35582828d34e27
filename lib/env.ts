// Reads the process environment, and small configuration files, on Node, Lambda and Deno alike
// without importing a runtime module.
import { ConfigError } from "./errors.ts";

type EnvSource = Record<string, string | undefined>;

interface Runtimes {
  process?: { env: EnvSource; getBuiltinModule?: (id: string) => unknown };
  Deno?: { env: { toObject(): EnvSource }; readTextFileSync(path: string): string };
}

/** The environment of the current runtime as a plain object. */
export function readEnv(): EnvSource {
  const g = globalThis as Runtimes;
  if (g.process?.env) return g.process.env;
  if (g.Deno) return g.Deno.env.toObject();
  return {};
}

/** Reads a text file (a configuration document) on Deno or Node. */
export function readTextFile(path: string): string {
  const g = globalThis as Runtimes;
  if (g.Deno) return g.Deno.readTextFileSync(path);
  const fs = g.process?.getBuiltinModule?.("node:fs") as
    | { readFileSync(path: string, encoding: "utf8"): string }
    | undefined;
  if (!fs) throw new ConfigError("this runtime cannot read files");
  return fs.readFileSync(path, "utf8");
}
