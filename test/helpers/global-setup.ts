// Vitest global setup: the emulators every end-to-end test talks to, started by the project's
// own script (installing them on a fresh machine) and stopped at the end if this run started them.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

const root = join(import.meta.dirname, "../..");
export const PORT_BASE = 4710;

declare module "vitest" {
  export interface ProvidedContext {
    emulators: { control: string; gatewayA: string; gatewayB: string };
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/_localstack/health`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject) {
  const env = { ...process.env, S3BATCH_PORT_BASE: String(PORT_BASE) };
  const wasRunning = await healthy(`http://127.0.0.1:${PORT_BASE}`);
  const out = execFileSync("bash", [join(root, "localstack/start.sh")], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const vars = Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => l.split("=", 2)),
  );
  project.provide("emulators", {
    control: vars.S3BATCH_CONTROL_URL,
    gatewayA: vars.S3BATCH_GATEWAY_A_URL,
    gatewayB: vars.S3BATCH_GATEWAY_B_URL,
  });
  return () => {
    if (!wasRunning) execFileSync("bash", [join(root, "localstack/stop.sh")], { env, stdio: "inherit" });
  };
}
