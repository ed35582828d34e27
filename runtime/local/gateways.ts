// Real gateways and an on-prem control plane on this machine, through the project's scripts in
// gateways/ (Ceph RGW in a Debian chroot, ElasticMQ from Maven Central), for the tests, the
// benchmarks and `npm run start:onprem` alike. Each installs once into ~/.cache/s3batch.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const scripts = join(root, "gateways");

/** Where a gateway's state lives: `.state/<name>-<port>`, like the emulators'. */
export const stateDir = (name: string, port: number) => join(root, ".state", `${name}-${port}`);

function run(script: string, args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync("bash", [join(scripts, script), ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
}

const printed = (out: string, name: string) => {
  const line = out.split("\n").find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`the gateway script printed no ${name}`);
  return line.slice(name.length + 1).trim();
};

/**
 * Whether this machine can run Ceph RGW: the chroot is built, or can be (root, Debian's apt).
 * Answers why not otherwise.
 */
export function cephAvailable(
  env: NodeJS.ProcessEnv = process.env,
): { ok: true } | { ok: false; why: string } {
  const cache = env.S3BATCH_CACHE ?? join(env.HOME ?? "/root", ".cache/s3batch");
  if (existsSync(join(cache, "ceph-trixie/.s3batch-ready"))) return { ok: true };
  if (process.getuid?.() !== 0) return { ok: false, why: "building the Ceph chroot needs root" };
  try {
    execFileSync("bash", ["-c", "command -v apt-get"], { stdio: "ignore" });
  } catch {
    return { ok: false, why: "building the Ceph chroot needs Debian's apt-get (debootstrap)" };
  }
  return { ok: true };
}

/** Starts Ceph RGW (`rados`: a one-node cluster on memstore; `dbstore`: SQLite) on `port`. */
export function startCeph(
  kind: "rados" | "dbstore",
  port: number,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return printed(
    run("ceph.sh", ["start", kind, String(port), stateDir(`rgw-${kind}`, port)], env),
    "S3BATCH_RGW_URL",
  );
}

export function stopCeph(
  kind: "rados" | "dbstore",
  port: number,
  env: NodeJS.ProcessEnv = process.env,
): void {
  run("ceph.sh", ["stop", stateDir(`rgw-${kind}`, port)], env);
}

/** Starts ElasticMQ on `port`, its messages kept in H2 under its state directory. */
export function startElasticMq(port: number, env: NodeJS.ProcessEnv = process.env): string {
  return printed(
    run("elasticmq.sh", ["start", String(port), stateDir("elasticmq", port)], env),
    "S3BATCH_SQS_URL",
  );
}

export function stopElasticMq(port: number, env: NodeJS.ProcessEnv = process.env): void {
  run("elasticmq.sh", ["stop", stateDir("elasticmq", port)], env);
}
