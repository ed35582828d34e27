// Reads the process environment on Node, Lambda and Deno alike without importing a runtime module.

type EnvSource = Record<string, string | undefined>;

/** The environment of the current runtime as a plain object. */
export function readEnv(): EnvSource {
  const g = globalThis as { process?: { env: EnvSource }; Deno?: { env: { toObject(): EnvSource } } };
  if (g.process?.env) return g.process.env;
  if (g.Deno) return g.Deno.env.toObject();
  return {};
}
