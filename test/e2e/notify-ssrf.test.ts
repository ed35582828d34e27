// Webhooks are not a way into the deployment's network. A listener on loopback counts every
// connection made to it while jobs name, as their s3batch:notify target, loopback, private,
// link-local (metadata) and IPv6 loopback addresses, a host name that resolves to loopback, an
// allowed host that redirects to loopback, a host that only starts like an allowed one, and a
// queue-looking path on a host that is no configured queue. Nothing reaches the listener; targets
// refused at CreateJob get a 400 that names no path; those refused when sending (after DNS, on a
// redirect) are in the job's event log with scheme, host and port only.
import { lookup } from "node:dns/promises";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import ipaddr from "ipaddr.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paths } from "../../lib/jobs/paths.ts";
import { cliEnv, runCli } from "../helpers/cli.ts";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { waitForJob } from "../helpers/jobs.ts";
import { mixedScenario } from "../helpers/mixed-scenario.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

const SECRET_PATH = "/T000/B000/hook-secret-path";
let t: TestRuntime;
let env: NodeJS.ProcessEnv;
let manifest = "";
/** The loopback listener nobody may reach, and the connections it saw. */
let trap: Server;
let trapPort = 0;
let trapConnections = 0;
/** An allowed host (127.0.0.2, which the operator allows) that redirects to the trap. */
let redirector: Server;
let redirectorPort = 0;
let redirectorHits = 0;
/** A name (not "localhost") that this machine resolves to a loopback address. */
let loopbackName = "";

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

async function findLoopbackName(): Promise<string> {
  for (const name of [hostname(), "runsc", "vm", "ip6-localhost", "ip6-loopback", "localhost.localdomain"]) {
    const found = await lookup(name, { all: true }).catch(() => []);
    if (found.length > 0 && found.every((a) => ipaddr.process(a.address).range() === "loopback")) return name;
  }
  throw new Error("no host name of this machine resolves to loopback (see /etc/hosts)");
}

beforeAll(async () => {
  loopbackName = await findLoopbackName();
  trap = createServer((_req, res) => res.end("reached"));
  trap.on("connection", () => {
    trapConnections++;
  });
  trapPort = await listen(trap, "127.0.0.1");
  redirector = createServer((_req, res) => {
    redirectorHits++;
    res.writeHead(307, { location: `http://127.0.0.1:${trapPort}${SECRET_PATH}` }).end();
  });
  redirectorPort = await listen(redirector, "127.0.0.2");
  t = await startTestRuntime({
    S3BATCH_NOTIFY_ALLOW_NETWORKS: "127.0.0.2/32",
    S3BATCH_NOTIFY_TARGETS: [
      `http://127.0.0.2:${redirectorPort}/hooks/`,
      `http://127.0.0.1:${trapPort}/`,
      `http://${loopbackName}:${trapPort}/`,
      `http://[::1]:${trapPort}/`,
      "http://10.1.2.3/",
      "http://169.254.169.254/",
      "https://hooks.example.com",
    ].join(","),
  });
  env = cliEnv(t.runtime.url);
  const s = await mixedScenario(t.gatewayA, t.gatewayB, "ssrfpool", 6);
  manifest = s.manifest.arn.replace("arn:aws:s3:::", "s3://");
});
afterAll(async () => {
  await t?.stop();
  trap?.close();
  redirector?.close();
});

async function eventLog(jobId: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const key of t.runtime.ctx.store.list(paths.events({ accountId: ACCOUNT_ID, jobId }))) {
    const e = await t.runtime.ctx.store.get<Record<string, unknown>>(key);
    if (e) out.push(e.value);
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `s3batch create` of a job waiting for confirmation whose notifications go to `target`. */
const createNotifying = (target: string) =>
  runCli(["create", "--manifest", manifest, "--untag", "--confirm", "--notify", target], env);

describe("notification targets", () => {
  it.each([
    ["loopback", () => `http://127.0.0.1:${trapPort}${SECRET_PATH}`, /not a public one/],
    ["a private address", () => `http://10.1.2.3${SECRET_PATH}`, /not a public one/],
    [
      "the metadata address",
      () => `http://169.254.169.254/latest/meta-data${SECRET_PATH}`,
      /not a public one/,
    ],
    // A tag value cannot hold "[": refused by the tag's own pattern (test/unit/notify-targets covers the address)
    ["IPv6 loopback", () => `http://[::1]:${trapPort}${SECRET_PATH}`, /cannot have|not a public one/],
    [
      "a host that starts like an allowed one",
      () => `https://hooks.example.com.evil.io${SECRET_PATH}`,
      /outside/,
    ],
    [
      "a queue-looking path on a host that is no configured queue",
      () => `http://127.0.0.2:${redirectorPort}/000000000000/s3batch-events`,
      /SQS queue this deployment does not send to/,
    ],
  ])("refuses %s at CreateJob, naming no path", async (_what, target, why) => {
    const r = await runCli(
      ["create", "--manifest", manifest, "--untag", "--confirm", "--notify", target()],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/InvalidRequestException/);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toContain(SECRET_PATH);
    expect(r.stderr).not.toContain("s3batch-events");
  });

  it("refuses, when sending, a host name that resolves to loopback and a redirect to loopback", async () => {
    // Act: both targets pass CreateJob (no DNS there); each job's Suspended event is then refused
    const byName = await createNotifying(`http://${loopbackName}:${trapPort}${SECRET_PATH}`);
    const redirected = await createNotifying(`http://127.0.0.2:${redirectorPort}/hooks${SECRET_PATH}`);
    expect(byName.code, byName.stderr).toBe(0);
    expect(redirected.code, redirected.stderr).toBe(0);
    const jobs = [byName.stdout.trim(), redirected.stdout.trim()];
    for (const jobId of jobs) await waitForJob(t.control, jobId, new Set(["Suspended"]));
    const refused = async (jobId: string) =>
      (await eventLog(jobId)).filter((e) => e.type === "notification-refused");
    await until(
      "both refusals",
      async () => (await refused(jobs[0] ?? "")).length > 0 && (await refused(jobs[1] ?? "")).length > 0,
    );

    // Assess: the loopback listener was never reached; the allowed host was, and redirected
    expect(trapConnections).toBe(0);
    expect(redirectorHits).toBe(1);
    const [nameRefusal] = await refused(jobs[0] ?? "");
    expect(nameRefusal).toMatchObject({ status: "Suspended", target: `http://${loopbackName}:${trapPort}` });
    expect(String(nameRefusal?.message)).toMatch(/resolves to an address that is not a public one/);
    const [redirectRefusal] = await refused(jobs[1] ?? "");
    expect(redirectRefusal).toMatchObject({
      status: "Suspended",
      target: `http://127.0.0.2:${redirectorPort}`,
    });
    expect(String(redirectRefusal?.message)).toMatch(/127\.0\.0\.1.*not a public one/);
    for (const jobId of jobs) expect(JSON.stringify(await eventLog(jobId))).not.toContain(SECRET_PATH);
  });

  it("refuses the same targets through PutJobTagging", async () => {
    const r = await runCli(["create", "--manifest", manifest, "--untag", "--confirm"], env);
    expect(r.code, r.stderr).toBe(0);
    const jobId = r.stdout.trim();
    const { PutJobTaggingCommand } = await import("@aws-sdk/client-s3-control");
    const put = t.control.send(
      new PutJobTaggingCommand({
        AccountId: ACCOUNT_ID,
        JobId: jobId,
        Tags: [{ Key: "s3batch:notify", Value: `http://169.254.169.254${SECRET_PATH}` }],
      }),
    );
    await expect(put).rejects.toMatchObject({ name: "InvalidRequestException" });
    await expect(put).rejects.not.toThrow(SECRET_PATH);
    const job = await waitForJob(t.control, jobId, new Set(["Suspended"]));
    expect(job.Status).toBe("Suspended");
    expect(trapConnections).toBe(0);
  });
});
