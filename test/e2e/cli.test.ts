// The s3batch CLI as a user runs it (bin/s3batch.mjs in its own process) against the local
// runtime on both emulated gateways: create from a local file and from an object on a gateway,
// watch to the end, list, show, errors and report, the exit codes, Deno, and `watch`'s bars on a
// pseudo-terminal.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobDescriptor, JobListDescriptor } from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProgressView } from "../../lib/api/progress-view.ts";
import { readText } from "../helpers/buckets.ts";
import { CLI, cliEnv, cliJson, ROOT, runCli } from "../helpers/cli.ts";
import { OTHER_ACCOUNT_ID, OTHER_CREDENTIALS } from "../helpers/clients.ts";
import { DENO_RUN } from "../helpers/deno-runtime.ts";
import { describeJob } from "../helpers/jobs.ts";
import { type MixedScenario, mixedScenario } from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const BUCKET = "clipool";
let t: TestRuntime;
let env: NodeJS.ProcessEnv;
let small: MixedScenario;
let dir: string;

beforeAll(async () => {
  // Small shards on one child worker: the larger job runs long enough to watch.
  t = await startTestRuntime({ S3BATCH_SHARD_ROWS: "100" }, { childWorkers: 1 });
  env = cliEnv(t.runtime.url);
  small = await mixedScenario(t.gatewayA, t.gatewayB, BUCKET, 200);
  dir = await mkdtemp(join(tmpdir(), "s3batch-cli-"));
});
afterAll(async () => {
  await t?.stop();
});

type ReportRow = { bucket: string; key: string; status: string; http: number; code: string; message: string };

describe("the s3batch CLI", () => {
  let fromFile = "";
  let fromObject = "";

  it("creates a job from a local manifest file and watches it to Complete, exit 0", async () => {
    // Prepare: the manifest as a file on this machine
    const file = join(dir, "manifest.csv");
    await writeFile(file, await readText(t.gatewayA, BUCKET, "manifest-200.csv"));

    // Act
    const created = await runCli(
      ["create", "--manifest-file", file, "--manifest-bucket", BUCKET, "--tag", "team=blue"].concat([
        "--report",
        `s3://${BUCKET}/cli-reports`,
        "--description",
        "from a file",
      ]),
      env,
    );
    fromFile = created.stdout.trim();
    const watched = await runCli(["watch", fromFile], env);

    // Assess
    expect(created.code, created.stderr).toBe(0);
    expect(fromFile).toMatch(/^[a-zA-Z0-9\-_]{5,36}$/);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain(`${fromFile} Complete: 160 succeeded, 40 failed, of 200`);
    const failed = await runCli(["report", fromFile, "--failed"], env);
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stdout).toBe(small.expected.failed);
  });

  it("creates a job from an object on a gateway, watching it in the same command", async () => {
    const r = await runCli(
      ["--json", "create", "--manifest", `s3://${BUCKET}/manifest-200.csv`, "--tag", "team=green"].concat([
        "--report",
        `s3://${BUCKET}/cli-reports`,
        "--priority",
        "20",
        "--watch",
      ]),
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { job: JobDescriptor; progress: ProgressView };
    fromObject = out.job.JobId ?? "";
    expect(out.job.Status).toBe("Complete");
    expect(out.job.Manifest?.Location?.ObjectArn).toBe(`arn:aws:s3:::${BUCKET}/manifest-200.csv`);
    expect(out.job.Priority).toBe(20);
  });

  it("lists jobs newest first, and shows per-endpoint progress adding up to DescribeJob's counts", async () => {
    const { jobs } = await cliJson<{ jobs: JobListDescriptor[] }>(["ls"], env);
    const ids = jobs.map((j) => j.JobId);
    expect(ids.indexOf(fromObject)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(fromObject)).toBeLessThan(ids.indexOf(fromFile));
    const onlyComplete = await cliJson<{ jobs: JobListDescriptor[] }>(["ls", "--status", "Complete"], env);
    expect(onlyComplete.jobs.every((j) => j.Status === "Complete")).toBe(true);

    const shown = await cliJson<{ job: JobDescriptor; progress: ProgressView }>(["show", fromFile], env);
    const described = await describeJob(t.control, fromFile);
    expect(shown.job.ProgressSummary).toEqual(described.ProgressSummary);
    const ep = shown.progress.endpoints;
    expect(ep.map((e) => e.id).sort()).toEqual(["gateway-a", "gateway-b"]);
    const sum = (f: (e: (typeof ep)[number]) => number) => ep.reduce((n, e) => n + f(e), 0);
    expect(sum((e) => e.tasks?.succeeded ?? Number.NaN)).toBe(
      described.ProgressSummary?.NumberOfTasksSucceeded,
    );
    expect(sum((e) => e.tasks?.failed ?? Number.NaN) + (shown.progress.tasksFoundNowhere ?? Number.NaN)).toBe(
      described.ProgressSummary?.NumberOfTasksFailed,
    );
    // What each endpoint did: every row routed to it gone through; objects on both tagged on both.
    for (const e of ep) {
      expect(e.done).toBe(e.routed);
      expect(e.succeeded).toBe(e.found);
    }
    // 30% of the rows on A alone, 30% on B alone, 20% on both (tagged on both)
    expect(ep.find((e) => e.id === "gateway-a")?.found).toBe(100);
    expect(ep.find((e) => e.id === "gateway-b")?.found).toBe(100);
    expect(shown.progress.phases?.Active).toBeDefined();

    const human = await runCli(["show", fromFile], env);
    expect(human.stdout).toMatch(/Status:\s+Complete/);
    expect(human.stdout).toMatch(/gateway-a\s+200\s+200/);
  });

  it("summarizes errors by endpoint, HTTP status and code, matching the report row for row", async () => {
    const summary = await cliJson<{ final: boolean; errors: ProgressView["errors"] }>(
      ["errors", fromFile],
      env,
    );
    const { rows } = await cliJson<{ rows: ReportRow[] }>(["report", fromFile, "--failed"], env);
    expect(summary.final).toBe(true);
    expect(rows).toHaveLength(40);
    const byCode = new Map<string, ReportRow[]>();
    for (const row of rows)
      byCode.set(`${row.http} ${row.code}`, [...(byCode.get(`${row.http} ${row.code}`) ?? []), row]);
    expect(summary.errors.map((g) => `${g.endpoint} ${g.http} ${g.code} ${g.count}`).sort()).toEqual(
      [...byCode.entries()].map(([k, v]) => `- ${k} ${v.length}`).sort(),
    );
    for (const g of summary.errors) {
      const keys = new Set((byCode.get(`${g.http} ${g.code}`) ?? []).map((r) => r.key));
      expect(g.samples).toHaveLength(5);
      for (const s of g.samples) expect(keys.has(s.key)).toBe(true);
    }
    const human = await runCli(["errors", fromFile], env);
    expect(human.stdout).toMatch(/-\s+404\s+NoSuchKey\s+20\s+clipool\/k\/\d{8}/);
  });

  it("writes the whole report to a file", async () => {
    const out = join(dir, "report.csv");
    const r = await runCli(["report", fromFile, "--out", out], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(out, "utf8")).toBe(small.expected.succeeded + small.expected.failed);
  });

  it("watch exits 1 when the job ends Failed, saying why", async () => {
    const file = join(dir, "bad.csv");
    await writeFile(file, `${BUCKET},k/00000000\n${BUCKET},k/00000001,v1,extra,columns\n`);
    const created = await runCli(
      ["create", "--manifest-file", file, "--manifest-bucket", BUCKET, "--untag"],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const watched = await runCli(["watch", created.stdout.trim()], env);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/Failed/);
    expect(watched.stdout).toMatch(/column/i);
  });

  it("exits 3 when the API cannot be reached or refuses the credentials, 2 for a usage error", async () => {
    const down = await runCli(["ls"], { ...env, S3BATCH_API: "http://127.0.0.1:9" });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach the s3batch API at http:\/\/127\.0\.0\.1:9/);
    const refused = await runCli(["ls"], { ...env, AWS_SECRET_ACCESS_KEY: "not-the-secret" });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/refused the credentials/);
    expect(refused.stderr).not.toContain("not-the-secret");
    const usage = await runCli(["create", "--tag", "a=b"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--manifest/);
    const unknown = await runCli(["frobnicate"], env);
    expect(unknown.code).toBe(2);
  });

  it("does not show another account's job: its progress route answers NotFound", async () => {
    const other = cliEnv(t.runtime.url, OTHER_CREDENTIALS, OTHER_ACCOUNT_ID);
    const r = await runCli(["errors", fromFile], other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NotFound|NoSuchJob/);
    const show = await runCli(["show", fromFile], other);
    expect(show.code).toBe(1);
  });

  it("runs under Deno", async () => {
    const r = await runCli(["--json", "show", fromFile], { ...env, NO_COLOR: "1" }, [
      ...DENO_RUN,
      "cli/main.ts",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { job: JobDescriptor }).job.Status).toBe("Complete");
  });

  it("draws a bar per endpoint with a rate and an ETA when watch runs on a terminal", async () => {
    // Prepare: a job long enough to watch
    const big = await mixedScenario(t.gatewayA, t.gatewayB, BUCKET, 2000);
    const created = await runCli(
      ["create", "--manifest", big.manifest.arn.replace("arn:aws:s3:::", "s3://"), "--untag"],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const jobId = created.stdout.trim();

    // Act: watch in a pseudo-terminal
    const screen = await new Promise<{ code: number; out: string }>((resolve, reject) => {
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} watch ${jobId} --interval 0.3`;
      const p = spawn("script", ["-qfec", cmd, "/dev/null"], {
        cwd: ROOT,
        env: { ...env, COLUMNS: "140", LINES: "40", TERM: "xterm" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      p.stdout.on("data", (d) => {
        out += d;
      });
      p.on("error", reject);
      p.on("close", (code) => resolve({ code: code ?? -1, out }));
    });

    // Assess
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes
    const text = screen.out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "\n");
    expect(screen.code, text.slice(-2000)).toBe(0);
    const drawn = (name: string) => new RegExp(`${name}\\s+\\S+ \\d+/\\d+ ([0-9.]+) tasks/s ETA (\\S+)`, "g");
    for (const name of ["overall", "gateway-a", "gateway-b"]) {
      const frames = [...text.matchAll(drawn(name))];
      expect(frames.length, `${name} bars in:\n${text.slice(-2000)}`).toBeGreaterThan(0);
      // While it ran, some frame showed a live rate and an ETA in time units.
      expect(frames.some((m) => Number(m[1]) > 0 && /^\d+(s|m\d{2}s)$/.test(m[2] ?? ""))).toBe(true);
    }
    expect(text).toContain(`${jobId} Complete`);
  });
});
