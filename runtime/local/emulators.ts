// Starting and stopping the emulators through the project's scripts (localstack/start.sh and
// stop.sh), for the local runtime, the tests and the benchmarks alike.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const scripts = join(dirname(fileURLToPath(import.meta.url)), "../../localstack");

export interface EmulatorUrls {
  control: string;
  gatewayA: string;
  gatewayB: string;
}

/** Installs (once) and starts the emulators for `env`'s S3BATCH_PORT_BASE; returns their URLs. */
export function startEmulators(env: NodeJS.ProcessEnv = process.env): EmulatorUrls {
  const out = execFileSync("bash", [join(scripts, "start.sh")], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const vars = new Map(
    out
      .trim()
      .split("\n")
      .map((l) => l.split("=", 2) as [string, string]),
  );
  const get = (name: string) => {
    const v = vars.get(name);
    if (!v) throw new Error(`localstack/start.sh printed no ${name}`);
    return v;
  };
  return {
    control: get("S3BATCH_CONTROL_URL"),
    gatewayA: get("S3BATCH_GATEWAY_A_URL"),
    gatewayB: get("S3BATCH_GATEWAY_B_URL"),
  };
}

export function stopEmulators(env: NodeJS.ProcessEnv = process.env): void {
  execFileSync("bash", [join(scripts, "stop.sh")], { env, stdio: "inherit" });
}

/** The endpoint document for the two emulated gateways. */
export function emulatedEndpoints(
  urls: EmulatorUrls,
  credentials = { accessKeyId: "test", secretAccessKey: "test" },
) {
  return JSON.stringify([
    { id: "gateway-a", url: urls.gatewayA, region: "us-east-1", credentials, forcePathStyle: true },
    { id: "gateway-b", url: urls.gatewayB, region: "us-east-1", credentials, forcePathStyle: true },
  ]);
}
