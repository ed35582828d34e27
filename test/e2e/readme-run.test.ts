// The README's run command, as a new user runs it: `npm start` with nothing configured starts its
// own emulators, serves the API, completes a submitted job, and on Ctrl-C stops what it started.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_ROLE_ARN } from "../../runtime/common/emulated.ts";
import { gatewayClient, s3ControlClient } from "../helpers/clients.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { expectSeedOutcome, seedScenario } from "../helpers/seed.ts";

const root = join(import.meta.dirname, "../..");
const PORT_BASE = 4720; // its own emulators, apart from the ones the other tests share
let proc: ChildProcess | undefined;

afterAll(() => {
  if (proc?.pid && proc.exitCode === null) process.kill(-proc.pid, "SIGKILL");
});

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|S3BATCH_)/.test(k)) env[k] = v;
  return { ...env, S3BATCH_PORT_BASE: String(PORT_BASE), S3BATCH_PORT: "0" };
}

function waitForLine(
  p: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
  { ignoreExit = false } = {},
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${seen}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    p.stdout?.on("data", onData);
    p.stderr?.on("data", (c: Buffer) => {
      seen += c.toString();
    });
    if (!ignoreExit)
      p.on("exit", (code) => reject(new Error(`npm start exited with ${code}; output:\n${seen}`)));
  });
}

async function portOpen(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

describe("README run command", () => {
  it("npm start serves the API, completes a job, and stops its emulators on SIGTERM", async () => {
    // Prepare
    proc = spawn("npm", ["start"], {
      cwd: root,
      env: cleanEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    proc.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    proc.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const [, url] = await waitForLine(proc, /s3batch API listening on (http:\/\/\S+)/, 240_000);
    const gatewayA = gatewayClient(`http://127.0.0.1:${PORT_BASE + 1}`);
    const gatewayB = gatewayClient(`http://127.0.0.1:${PORT_BASE + 2}`);
    const control = s3ControlClient(url ?? "");
    const manifest = await seedScenario(gatewayA, gatewayB);

    // Act
    const jobId = await createJob(
      control,
      // The demo role npm start configures, as the README's aws s3control example names it.
      createJobInput(
        manifest,
        { S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "BULK" } },
        { RoleArn: DEMO_ROLE_ARN },
      ),
    );
    const job = await waitForJob(control, jobId);
    // Ctrl-C in a terminal signals the whole process group, as this does.
    const stopped = waitForLine(proc, /s3batch stopped/, 60_000, { ignoreExit: true });
    process.kill(-(proc.pid ?? 0), "SIGTERM");
    await stopped;

    // Assess
    expectSeedOutcome(job);
    // An operator can follow the job in the log: a JSON line per status change and per child attempt.
    const lines = output
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.jobId === jobId);
    const changes = lines.filter((l) => l.msg === "job status changed").map((l) => `${l.from}>${l.to}`);
    expect(changes).toEqual([
      "New>Preparing",
      "Preparing>Ready",
      "Ready>Active",
      "Active>Completing",
      "Completing>Complete",
    ]);
    const attempts = lines.filter((l) => l.msg === "child attempt ended");
    expect(attempts.map((l) => l.endpoint).sort()).toEqual(["gateway-a", "gateway-b"]);
    for (const a of attempts) {
      expect(a).toMatchObject({ level: "info", shard: 0, result: "settled" });
      expect(a).toHaveProperty("attempt");
      expect(a).toHaveProperty("ms");
      expect(a).toHaveProperty("succeeded");
    }
    for (const port of [PORT_BASE, PORT_BASE + 1, PORT_BASE + 2]) expect(await portOpen(port)).toBe(false);
    for (const c of [gatewayA, gatewayB, control]) c.destroy();
  });
});
