// Starting and stopping the emulators through the project's scripts (localstack/start.sh and
// stop.sh), for the local Node runtime, the tests and the benchmarks alike.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EmulatorUrls, parseStartOutput } from "../common/emulated.ts";

const scripts = join(dirname(fileURLToPath(import.meta.url)), "../../localstack");

/** Installs (once) and starts the emulators for `env`'s S3BATCH_PORT_BASE; returns their URLs. */
export function startEmulators(env: NodeJS.ProcessEnv = process.env): EmulatorUrls {
  const out = execFileSync("bash", [join(scripts, "start.sh")], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return parseStartOutput(out);
}

export function stopEmulators(env: NodeJS.ProcessEnv = process.env): void {
  execFileSync("bash", [join(scripts, "stop.sh")], { env, stdio: "inherit" });
}
