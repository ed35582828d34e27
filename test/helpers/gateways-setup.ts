// Vitest global setup of `npm run test:gateways`: every make of gateway the operations matrix runs
// on, each built or installed once (cached under ~/.cache/s3batch) and started by its script in
// gateways/: MinIO, SeaweedFS and Garage here; Ceph RGW (RADOS and dbstore) and versitygw by the
// emulators' setup, which runs first.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { stateDir } from "../../runtime/local/gateways.ts";
import { PORT_BASE } from "./global-setup.ts";

export interface GatewayMake {
  url: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    makes: Record<string, GatewayMake>;
  }
}

const scripts = join(import.meta.dirname, "../../gateways");
const MAKES = [
  {
    name: "minio",
    script: "minio.sh",
    port: PORT_BASE + 6,
    credentials: { accessKeyId: "test", secretAccessKey: "testtest" },
  },
  {
    name: "seaweedfs",
    script: "seaweedfs.sh",
    port: PORT_BASE + 7,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  },
  {
    name: "garage",
    script: "garage.sh",
    port: PORT_BASE + 8,
    credentials: {
      accessKeyId: "GK000000000000000000000001",
      secretAccessKey: "0000000000000000000000000000000000000000000000000000000000000001",
    },
  },
];

export default function setup(project: TestProject) {
  const makes: Record<string, GatewayMake> = {};
  for (const m of MAKES) {
    const out = execFileSync(
      "bash",
      [join(scripts, m.script), "start", String(m.port), stateDir(m.name, m.port)],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const url = /=(http:\/\/\S+)/.exec(out)?.[1];
    if (!url) throw new Error(`gateways/${m.script} printed no URL`);
    makes[m.name] = { url, credentials: m.credentials };
  }
  project.provide("makes", makes);
  return () => {
    for (const m of MAKES)
      execFileSync("bash", [join(scripts, m.script), "stop", stateDir(m.name, m.port)], { stdio: "inherit" });
  };
}
