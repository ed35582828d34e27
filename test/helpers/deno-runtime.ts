// The local runtime under Deno (`npm run start:deno`'s entry point), as its own process, given a
// deployment's environment: the API and the queue loops with the same handlers as on Node.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "../..");

/** `npx` and the arguments that run a TypeScript entry point under Deno with what s3batch needs. */
export const DENO_RUN = [
  "npx",
  "deno",
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  "--allow-sys",
];

export async function startDenoRuntime(env: Record<string, string>): Promise<{ url: string; stop(): void }> {
  const [npx = "npx", ...args] = DENO_RUN;
  const proc: ChildProcess = spawn(npx, [...args, "runtime/deno/main.ts"], {
    cwd: root,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`Deno did not start:\n${seen}`)), 180_000);
    const onData = (c: Buffer) => {
      seen = (seen + c.toString()).slice(-8000);
      const m = /listening on (http:\/\/\S+)/.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`Deno exited with ${code}:\n${seen}`)));
  });
  return {
    url,
    // npx and the deno it started: the whole process group.
    stop: () => {
      if (proc.pid) process.kill(-proc.pid, "SIGTERM");
    },
  };
}
