// Vitest global setup: the emulators every end-to-end test talks to, started by the project's
// own script (installing them on a fresh machine) and stopped at the end if this run started them.
import type { TestProject } from "vitest/node";
import type { EmulatorUrls } from "../../runtime/common/emulated.ts";
import { startEmulators, stopEmulators } from "../../runtime/local/emulators.ts";
import { cephAvailable, startCeph, stopCeph, stopElasticMq } from "../../runtime/local/gateways.ts";
import { ONPREM_SQS_PORT, onPremControl } from "./control-plane.ts";

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

/** Ceph RGW's ports: a one-node RADOS cluster (its monitor 100 above) and the dbstore backend. */
export const RGW_PORT = PORT_BASE + 4;
export const RGW_DBSTORE_PORT = PORT_BASE + 5;

/** The tests that need the real gateway, named when it cannot run here. */
const NEED_RGW = [
  "test/e2e/real-gateway.test.ts (verified effects on RGW RADOS and dbstore, the gateways' capabilities)",
  "the federation tests' third gateway: stress-kill, outage, tenants, every-row, delete-kills, operations (copy across gateways)",
];

export default async function setup(project: TestProject) {
  const env = { ...process.env, S3BATCH_PORT_BASE: String(PORT_BASE) };
  const wasRunning = await healthy(`http://127.0.0.1:${PORT_BASE}`);
  const urls = startEmulators(env);
  const ceph = cephAvailable(env);
  let rgwStarted = false;
  if (ceph.ok) {
    urls.rgw = startCeph("rados", RGW_PORT, env);
    urls.rgwDbstore = startCeph("dbstore", RGW_DBSTORE_PORT, env);
    rgwStarted = true;
  } else {
    const banner = [
      "",
      "=".repeat(100),
      `Ceph RGW cannot run on this machine: ${ceph.why}.`,
      "These tests run without it (two emulated gateways only), or not at all:",
      ...NEED_RGW.map((t) => `  - ${t}`),
      "=".repeat(100),
      "",
    ].join("\n");
    // In CI the real gateway is not optional: a missing one is a failure, never a silent skip.
    if (process.env.CI === "true") throw new Error(banner);
    process.stderr.write(banner);
  }
  // S3BATCH_CONTROL_PLANE=onprem: the control plane on ElasticMQ and this RGW (docs/onprem.md).
  Object.assign(urls, onPremControl(env, urls.rgw, RGW_PORT));
  project.provide("emulators", urls);
  return () => {
    if (!wasRunning) stopEmulators(env);
    if (urls.controlSqs) stopElasticMq(ONPREM_SQS_PORT, env);
    if (rgwStarted) {
      stopCeph("rados", RGW_PORT, env);
      stopCeph("dbstore", RGW_DBSTORE_PORT, env);
    }
  };
}
