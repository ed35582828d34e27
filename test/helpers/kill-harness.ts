// Runs the local runtime as its own process (the README's `npm start`, given a deployment's
// endpoints, queues and internal bucket) and SIGKILLs it: no signal handler runs, nothing is
// cleaned up, its in-flight messages and leases are simply abandoned. The stress bench and the
// kill test share it. Progress is read from the internal bucket's progress markers, so it can be
// watched while the API (in the killed process) is down.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { listProgress } from "../../lib/children/progress.ts";
import type { Context } from "../../lib/context.ts";
import { TERMINAL_STATUSES } from "../../lib/jobs/model.ts";
import type { JobRef } from "../../lib/jobs/paths.ts";
import { jobGet } from "../../lib/jobs/store.ts";

const root = join(import.meta.dirname, "../..");

/** One local runtime process, restartable. */
export class RuntimeProcess {
  private proc: ChildProcess | undefined;
  output = "";

  constructor(private readonly env: Record<string, string>) {}

  /** Starts the process and resolves once its queue loops run (and its API listens, if any). */
  async start(): Promise<void> {
    const proc = spawn(process.execPath, ["--import", "tsx", "runtime/local/main.ts"], {
      cwd: root,
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    const ready = this.env.S3BATCH_MODE === "worker" ? /queue loops running/ : /API listening on/;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the runtime did not start:\n${this.output.slice(-2000)}`)),
        60_000,
      );
      const onData = (chunk: Buffer) => {
        this.output = (this.output + chunk.toString()).slice(-20_000);
        if (ready.test(this.output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the runtime exited with ${code}:\n${this.output.slice(-2000)}`));
      });
    });
    this.output = "";
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGKILL: the process dies mid-whatever, with no chance to clean up. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGKILL");
    await exited;
  }

  /** SIGTERM: a clean stop (the end of a test). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
}

/** Samples a job's progress (tasks its children have checkpointed, +1 once it ended) every 250 ms. */
export class ProgressWatch {
  readonly samples: { at: number; done: number; status: string }[] = [];
  private running = true;
  private loop: Promise<void>;

  constructor(
    private readonly ctx: Pick<Context, "store">,
    private readonly ref: JobRef,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        let done = 0;
        for (const p of (await listProgress(this.ctx.store, this.ref)).values())
          done += p.succeeded + p.failed + p.missing;
        const job = await jobGet(this.ctx.store, this.ref);
        if (job && TERMINAL_STATUSES.includes(job.value.status)) done++;
        this.samples.push({ at: Date.now(), done, status: job?.value.status ?? "" });
      } catch {
        // A sample the emulator could not answer is simply missing from the series.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The job's status at each kill time. */
  statusAt(kills: number[]): string[] {
    return kills.map((k) => [...this.samples].reverse().find((s) => s.at <= k)?.status ?? "");
  }

  /** For each kill time, how long until progress moved past where it stood at the kill (ms). */
  stallsAfter(kills: number[]): number[] {
    return kills.map((k) => {
      const before = [...this.samples].reverse().find((s) => s.at <= k)?.done ?? 0;
      const next = this.samples.find((s) => s.at > k && s.done > before);
      return next ? next.at - k : Number.POSITIVE_INFINITY;
    });
  }
}

/** Kills and restarts `proc` `kills` times, waiting a random 3-10 s before each kill. */
export async function killRepeatedly(
  proc: RuntimeProcess,
  kills: number,
  until: () => Promise<boolean>,
  random: () => number = Math.random,
): Promise<number[]> {
  const at: number[] = [];
  for (let i = 0; i < kills; i++) {
    await new Promise((r) => setTimeout(r, 3_000 + random() * 7_000));
    if (await until()) break;
    at.push(Date.now());
    await proc.kill();
    await proc.start();
  }
  return at;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  return typeof address === "object" && address ? address.port : 0;
}
