// Vitest global setup: the emulators every end-to-end test talks to, started by the project's
// own script (installing them on a fresh machine) and stopped at the end if this run started them.
import type { TestProject } from "vitest/node";
import type { EmulatorUrls } from "../../runtime/common/emulated.ts";
import { startEmulators, stopEmulators } from "../../runtime/local/emulators.ts";

export const PORT_BASE = 4710;

declare module "vitest" {
  export interface ProvidedContext {
    emulators: EmulatorUrls;
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
  project.provide("emulators", startEmulators(env));
  return () => {
    if (!wasRunning) stopEmulators(env);
  };
}
