// s3batch against a hand-tuned loop, side by side on the same objects: per gateway (MinIO, built by
// gateways/minio.sh, and LocalStack), a raw AWS SDK v3 loop with a keep-alive pool at 8, 16, 32, 64
// and 128 requests in flight (bench/raw-loop.ts), and s3batch with its default settings
// (bench/tasks-runtime.ts: CreateJob to Complete, the report written), alternating, ROUNDS rounds.
// Each side runs in its own process; CPU is user + system time from /proc (s3batch: the runtime
// process over the job, idle loops included; the loop: its process over the loop).
// It also counts the requests s3batch sends to the control plane (a counting proxy in front of it)
// per 1,000 tasks for a job over one and over two gateways, prices a million tasks on AWS from
// them, and runs a job against a gateway that answers 503 SlowDown above a rate.
// Run: npm run bench:tasks   (TASKS=10000 ROUNDS=3 THROTTLE_RATE=200 by default)
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ensureQueues, queueEnv } from "../lib/provision.ts";
import { startEmulators } from "../runtime/local/emulators.ts";
import { stateDir } from "../runtime/local/gateways.ts";
import { ACCOUNT_ID, s3ControlClient, TEST_CREDENTIALS, TEST_ROLES } from "../test/helpers/clients.ts";
import { type FaultProxy, startFaultProxy } from "../test/helpers/fault-proxy.ts";
import { createJob, createJobInput, describeJob } from "../test/helpers/jobs.ts";

const TASKS = Number(process.env.TASKS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const THROTTLE_RATE = Number(process.env.THROTTLE_RATE ?? 200);
/** RAW=0: s3batch's side only (its control-plane counts, say), no raw loops. */
const RAW = process.env.RAW !== "0";
const DETAIL = process.env.DETAIL === "1";
const CONCURRENCIES = [8, 16, 32, 64, 128];
const root = join(import.meta.dirname, "..");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

interface Gateway {
  name: string;
  id: string;
  url: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  bucket: string;
}

const urls = startEmulators();
const minioOut = execFileSync(
  "bash",
  [join(root, "gateways/minio.sh"), "start", "4766", stateDir("minio-bench", 4766)],
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
);
const minioUrl = /=(http:\/\/\S+)/.exec(minioOut)?.[1];
if (!minioUrl) throw new Error("gateways/minio.sh printed no URL");
const gateways: Gateway[] = [
  {
    name: "MinIO",
    id: "minio",
    url: minioUrl,
    credentials: { accessKeyId: "test", secretAccessKey: "testtest" },
    bucket: "bench-tasks-minio",
  },
  {
    name: "LocalStack",
    id: "localstack",
    url: urls.gatewayA,
    credentials: TEST_CREDENTIALS,
    bucket: "bench-tasks-ls",
  },
];
const keyOf = (i: number) => `o/${String(i).padStart(6, "0")}`;
const client = (g: Gateway) =>
  new S3Client({ region: "us-east-1", endpoint: g.url, forcePathStyle: true, credentials: g.credentials });

/** The bucket with TASKS small objects and a manifest of them (made once, kept across runs). */
async function seed(g: Gateway): Promise<{ etag: string; reports: string }> {
  const s3 = client(g);
  const reports = `${g.bucket}-reports`;
  for (const Bucket of [g.bucket, reports])
    await s3.send(new CreateBucketCommand({ Bucket })).catch(() => undefined);
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: g.bucket, Prefix: "o/", StartAfter: keyOf(TASKS - 2) }),
  );
  if (!listed.Contents?.some((o) => o.Key === keyOf(TASKS - 1))) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let i = next++; i < TASKS; i = next++)
          await s3.send(new PutObjectCommand({ Bucket: g.bucket, Key: keyOf(i), Body: "x" }));
      }),
    );
  }
  const body = Array.from({ length: TASKS }, (_, i) => `${g.bucket},${keyOf(i)}`).join("\n");
  const put = await s3.send(
    new PutObjectCommand({ Bucket: g.bucket, Key: `manifest-${TASKS}.csv`, Body: body }),
  );
  s3.destroy();
  return { etag: put.ETag ?? "", reports };
}

/** What a control-plane request is, from its method, path and headers (S3 and SQS share a port). */
function classify(req: IncomingMessage): string {
  const kind = requestKind(req);
  if (!DETAIL || !kind.startsWith("s3:")) return kind;
  // DETAIL=1: which documents of the internal bucket the requests are for.
  const parts = new URL(req.url ?? "/", "http://x").pathname.split("/").slice(2);
  const what = parts[0] === "jobs" ? (parts[3] ?? "(job)").replace(/\.json$/, "") : (parts[0] ?? "(bucket)");
  return `${kind} ${what}`;
}

function requestKind(req: IncomingMessage): string {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") return `sqs:${target.split(".").pop()}`;
  const url = new URL(req.url ?? "/", "http://x");
  const q = url.searchParams;
  if (req.method === "POST" && url.pathname === "/") return "sqs:query";
  if (
    req.method === "GET" &&
    (q.has("list-type") || q.has("prefix") || url.pathname.split("/").filter(Boolean).length === 1)
  )
    return "s3:ListObjectsV2";
  if (req.method === "GET") return "s3:GetObject";
  if (req.method === "HEAD") return "s3:HeadObject";
  if (req.method === "DELETE") return "s3:DeleteObject";
  if (req.method === "PUT") return q.has("uploadId") ? "s3:UploadPart" : "s3:PutObject";
  if (req.method === "POST")
    return q.has("uploads") ? "s3:CreateMultipartUpload" : "s3:CompleteMultipartUpload";
  return `other:${req.method}`;
}

/** The runtime in a process of its own, its control plane through `control`. */
async function startRuntime(name: string, endpoints: object[], control: FaultProxy) {
  const sqs = new SQSClient({ region: "us-east-1", endpoint: urls.control, credentials: TEST_CREDENTIALS });
  const queues = await ensureQueues(sqs, `bench-${name}-${Date.now().toString(36)}`);
  sqs.destroy();
  // PROFILE_DIR=<dir>: the runtime writes a CPU profile there when it stops (node --cpu-prof).
  const profile = process.env.PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  const child = spawn(
    process.execPath,
    [...profile, "--import", "tsx", join(root, "bench/tasks-runtime.ts")],
    {
      cwd: root,
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: control.url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        S3BATCH_ENDPOINTS: JSON.stringify(endpoints),
        S3BATCH_INTERNAL_BUCKET: `s3batch-bench-${name}`,
        ...queueEnv(queues),
        S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
        S3BATCH_ROLES: TEST_ROLES,
        S3BATCH_LOG_LEVEL: "warn",
      },
    },
  ) as ChildProcessWithoutNullStreams;
  child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const nextLine = (prefix: string) =>
    new Promise<string>((resolve) => {
      const take = (line: string) =>
        line.startsWith(prefix) ? resolve(line.slice(prefix.length)) : waiting.unshift(take);
      waiting.push(take);
    });
  const url = await nextLine("URL=");
  return {
    url,
    pid: child.pid as number,
    async stats(): Promise<Record<string, { invocations: number; ms: number }>> {
      const got = nextLine("STATS=");
      child.stdin.write("stats\n");
      return JSON.parse(await got);
    },
    async stop() {
      child.stdin.write("stop\n");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** CPU milliseconds (user + system) a process has used, from /proc. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

const sumKinds = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    Object.keys(a)
      .map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)])
      .filter(([, n]) => Number(n) > 0),
  );

type Runtime = Awaited<ReturnType<typeof startRuntime>>;

/** One s3batch job over `manifest`, CreateJob to Complete; its time, CPU and control requests. */
async function s3batchJob(
  rt: Runtime,
  proxy: FaultProxy,
  manifest: { arn: string; etag: string },
  reports: string,
  tasks: number,
) {
  const api = s3ControlClient(rt.url);
  const before = { cpu: cpuMsOf(rt.pid), kinds: { ...proxy.stats.byKind }, stats: await rt.stats() };
  const t0 = performance.now();
  const jobId = await createJob(api, {
    ...createJobInput(manifest, { S3PutObjectTagging: { TagSet: [{ Key: "bench", Value: "s3batch" }] } }),
    Report: {
      Bucket: `arn:aws:s3:::${reports}`,
      Format: "Report_CSV_20180820",
      Enabled: true,
      Prefix: "bench",
      ReportScope: "AllTasks",
    },
  });
  // DescribeJob every 250 ms until it ends: each is one read of job.json, the client's not the job's.
  let describes = 0;
  let job: Awaited<ReturnType<typeof describeJob>>;
  for (const deadline = Date.now() + 600_000; ; ) {
    job = await describeJob(api, jobId);
    describes++;
    if (job.Status === "Complete" || job.Status === "Failed" || job.Status === "Cancelled") break;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.Status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const ms = performance.now() - t0;
  const cpuMs = cpuMsOf(rt.pid) - before.cpu;
  const after = await rt.stats();
  api.destroy();
  const done =
    (job.ProgressSummary?.NumberOfTasksSucceeded ?? 0) + (job.ProgressSummary?.NumberOfTasksFailed ?? 0);
  if (job.Status !== "Complete" || done !== tasks || job.ProgressSummary?.NumberOfTasksFailed)
    throw new Error(`job ${jobId} ended ${job.Status} with ${JSON.stringify(job.ProgressSummary)}`);
  const handlers = Object.fromEntries(
    Object.entries(after).map(([q, s]) => [
      q,
      {
        invocations: s.invocations - (before.stats[q]?.invocations ?? 0),
        ms: s.ms - (before.stats[q]?.ms ?? 0),
      },
    ]),
  );
  const control = sumKinds(proxy.stats.byKind, before.kinds);
  const reads = DETAIL ? "s3:GetObject job" : "s3:GetObject";
  control[reads] = Math.max(0, (control[reads] ?? 0) - describes);
  return { ms, cpuMs, control, handlers };
}

function rawLoop(g: Gateway, concurrency: number): { ms: number; cpuMs: number } {
  const out = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "bench/raw-loop.ts"),
      g.url,
      g.bucket,
      "o/",
      String(TASKS),
      String(concurrency),
    ],
    {
      cwd: root,
      encoding: "utf8",
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: g.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: g.credentials.secretAccessKey,
      },
    },
  );
  const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
    ms: number;
    cpuMs: number;
    failed: number;
  };
  if (r.failed) throw new Error(`the raw loop at ${concurrency} failed ${r.failed} tasks`);
  return r;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

const proxy = await startFaultProxy(urls.control, Math.random, classify);
const seeded = new Map<string, Awaited<ReturnType<typeof seed>>>();
for (const g of gateways) seeded.set(g.id, await seed(g));
const rt = await startRuntime(
  "tasks",
  gateways.map((g) => ({ id: g.id, url: g.url, credentials: g.credentials })),
  proxy,
);

const results: Record<string, unknown>[] = [];
const controlPer1000: Record<string, Record<string, number>> = {};
const handlerTotals = { invocations: {} as Record<string, number>, ms: {} as Record<string, number> };
let handlerTasks = 0;
for (const g of gateways) {
  const s = seeded.get(g.id) as { etag: string; reports: string };
  const manifest = { arn: `arn:aws:s3:::${g.bucket}/manifest-${TASKS}.csv`, etag: s.etag };
  const raw: Record<number, { tps: number[]; cpu: number[] }> = {};
  const ours = { tps: [] as number[], cpu: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const runOurs = async () => {
      const r = await s3batchJob(rt, proxy, manifest, s.reports, TASKS);
      ours.tps.push(TASKS / (r.ms / 1000));
      ours.cpu.push(r.cpuMs / TASKS);
      if (round === 0) {
        controlPer1000[`${g.name} (1 gateway)`] = Object.fromEntries(
          Object.entries(r.control).map(([k, n]) => [k, round1((n * 1000) / TASKS)]),
        );
        for (const [q, h] of Object.entries(r.handlers)) {
          handlerTotals.invocations[q] = (handlerTotals.invocations[q] ?? 0) + h.invocations;
          handlerTotals.ms[q] = (handlerTotals.ms[q] ?? 0) + h.ms;
        }
        handlerTasks += TASKS;
      }
      console.error(
        `${g.name} s3batch round ${round + 1}: ${Math.round(r.ms)} ms, ${round2(r.cpuMs / TASKS)} ms CPU/task`,
      );
    };
    if (round % 2 === 1) await runOurs();
    for (const c of !RAW ? [] : round % 2 === 0 ? CONCURRENCIES : [...CONCURRENCIES].reverse()) {
      const r = rawLoop(g, c);
      raw[c] ??= { tps: [], cpu: [] };
      raw[c].tps.push(TASKS / (r.ms / 1000));
      raw[c].cpu.push(r.cpuMs / TASKS);
      console.error(
        `${g.name} raw ${c} round ${round + 1}: ${r.ms} ms, ${round2(r.cpuMs / TASKS)} ms CPU/task`,
      );
    }
    if (round % 2 === 0) await runOurs();
  }
  const best = CONCURRENCIES.reduce((b, c) =>
    median(raw[c]?.tps ?? []) > median(raw[b]?.tps ?? []) ? c : b,
  );
  const row = {
    gateway: g.name,
    raw: Object.fromEntries(
      CONCURRENCIES.map((c) => [
        c,
        {
          tasksPerSecond: round1(median(raw[c]?.tps ?? [])),
          cpuMsPerTask: round2(median(raw[c]?.cpu ?? [])),
        },
      ]),
    ),
    bestRawConcurrency: best,
    s3batch: {
      tasksPerSecond: round1(median(ours.tps)),
      cpuMsPerTask: round2(median(ours.cpu)),
      runs: ours.tps.map(round1),
    },
    rateRatio: round2(median(ours.tps) / median(raw[best]?.tps ?? [1])),
    cpuRatio: round2(median(ours.cpu) / median(raw[best]?.cpu ?? [1])),
  };
  results.push(row);
  console.log(JSON.stringify({ benchmark: "tasks", tasks: TASKS, rounds: ROUNDS, ...row }));
}

// A job over both gateways: half the rows on each.
{
  const both = `${gateways.map((g) => g.bucket).join("-")}.csv`;
  const lines = gateways.flatMap((g) =>
    Array.from({ length: TASKS / 2 }, (_, i) => `${g.bucket},${keyOf(i)}`),
  );
  const first = gateways[0] as Gateway;
  const s3 = client(first);
  const put = await s3.send(
    new PutObjectCommand({ Bucket: first.bucket, Key: both, Body: lines.join("\n") }),
  );
  s3.destroy();
  const r = await s3batchJob(
    rt,
    proxy,
    { arn: `arn:aws:s3:::${first.bucket}/${both}`, etag: put.ETag ?? "" },
    (seeded.get(first.id) as { reports: string }).reports,
    TASKS,
  );
  controlPer1000["MinIO + LocalStack (2 gateways)"] = Object.fromEntries(
    Object.entries(r.control).map(([k, n]) => [k, round1((n * 1000) / TASKS)]),
  );
}
await rt.stop();

// A gateway that answers 503 SlowDown above THROTTLE_RATE requests a second.
let throttled: Record<string, unknown> = {};
{
  const ls = gateways[1] as Gateway;
  const limiter = await startFaultProxy(ls.url);
  limiter.rateLimit = THROTTLE_RATE;
  const trt = await startRuntime(
    "throttled",
    [{ id: "throttled", url: limiter.url, credentials: ls.credentials }],
    proxy,
  );
  const n = Math.min(TASKS, THROTTLE_RATE * 20);
  const s3 = client(ls);
  const key = `manifest-throttled-${n}.csv`;
  const put = await s3.send(
    new PutObjectCommand({
      Bucket: ls.bucket,
      Key: key,
      Body: Array.from({ length: n }, (_, i) => `${ls.bucket},${keyOf(i)}`).join("\n"),
    }),
  );
  s3.destroy();
  const requests0 = limiter.stats.requests - limiter.stats.slowDowns;
  const r = await s3batchJob(
    trt,
    proxy,
    { arn: `arn:aws:s3:::${ls.bucket}/${key}`, etag: put.ETag ?? "" },
    (seeded.get(ls.id) as { reports: string }).reports,
    n,
  );
  const forwarded = limiter.stats.requests - limiter.stats.slowDowns - requests0;
  await trt.stop();
  await limiter.close();
  throttled = {
    allowedRequestsPerSecond: THROTTLE_RATE,
    tasks: n,
    tasksPerSecond: round1(n / (r.ms / 1000)),
    requestsPerTask: round2(forwarded / n),
    share: round2(n / (r.ms / 1000) / (THROTTLE_RATE / Math.max(1, forwarded / n))),
    slowDowns: limiter.stats.slowDowns,
  };
  console.log(JSON.stringify({ benchmark: "tasks-throttled", ...throttled }));
}
await proxy.close();

// What a million tasks cost on AWS, from the counts (us-east-1 list prices).
const PRICE = {
  lambdaGbSecond: 0.0000166667,
  lambdaRequest: 0.2 / 1e6,
  sqsRequest: 0.4 / 1e6,
  s3Write: 0.005 / 1000, // PUT, COPY, POST, LIST
  s3Read: 0.0004 / 1000, // GET and the others
};
const MEMORY_GB: Record<string, number> = { dispatch: 1, child: 1, poll: 1, merge: 0.5 };
const oneGateway = controlPer1000[`${gateways[0]?.name} (1 gateway)`] ?? {};
const perMillion = (kind: (k: string) => boolean) =>
  Object.entries(oneGateway).reduce((n, [k, v]) => (kind(k) ? n + v * 1000 : n), 0);
// Lambda's event source mappings receive the messages on AWS (their long polls do not grow with
// the tasks); the local runtime's receives are left out.
const sqs = perMillion((k) => k.startsWith("sqs:") && !k.startsWith("sqs:ReceiveMessage"));
const s3Writes = perMillion((k) => /s3:(Put|List|Create|Complete|UploadPart)/.test(k));
const s3Reads = perMillion((k) => /s3:(Get|Head)/.test(k));
const scale = 1e6 / Math.max(1, handlerTasks);
const gbSeconds =
  Object.entries(handlerTotals.ms).reduce((n, [q, ms]) => n + (ms / 1000) * (MEMORY_GB[q] ?? 1), 0) * scale;
const invocations = Object.values(handlerTotals.invocations).reduce((n, x) => n + x, 0) * scale;
const cost = {
  lambda: round2(gbSeconds * PRICE.lambdaGbSecond + invocations * PRICE.lambdaRequest),
  sqs: round2(sqs * PRICE.sqsRequest),
  s3: round2(s3Writes * PRICE.s3Write + s3Reads * PRICE.s3Read),
};
const total = round2(cost.lambda + cost.sqs + cost.s3);
console.log(JSON.stringify({ benchmark: "tasks-control-plane", perThousandTasks: controlPer1000 }));
console.log(
  JSON.stringify({
    benchmark: "tasks-cost-per-million",
    gbSeconds: Math.round(gbSeconds),
    invocations: Math.round(invocations),
    ...cost,
    total,
    awsBatchOperations: { perMillionTasks: 1, perJob: 0.25 },
  }),
);

console.log(`\n${TASKS} PutObjectTagging tasks, ${ROUNDS} rounds, medians`);
const table: Record<string, string | number>[] = [];
for (const r of results as {
  gateway: string;
  raw: Record<number, { tasksPerSecond: number; cpuMsPerTask: number }>;
  s3batch: { tasksPerSecond: number; cpuMsPerTask: number };
  rateRatio: number;
  cpuRatio: number;
  bestRawConcurrency: number;
}[]) {
  for (const c of CONCURRENCIES)
    table.push({
      gateway: r.gateway,
      runner: `raw SDK loop, ${c} in flight`,
      "tasks/s": r.raw[c]?.tasksPerSecond ?? 0,
      "CPU ms/task": r.raw[c]?.cpuMsPerTask ?? 0,
    });
  table.push({
    gateway: r.gateway,
    runner: "s3batch, defaults",
    "tasks/s": r.s3batch.tasksPerSecond,
    "CPU ms/task": r.s3batch.cpuMsPerTask,
  });
  table.push({
    gateway: r.gateway,
    runner: `ratio to raw at ${r.bestRawConcurrency}`,
    "tasks/s": r.rateRatio,
    "CPU ms/task": r.cpuRatio,
  });
}
console.table(table);
console.log("control-plane requests per 1,000 tasks");
console.table(controlPer1000);
console.log("a gateway throttling above a rate");
console.table([throttled]);
console.log("AWS cost of one million tasks (USD)");
console.table([{ ...cost, total, "S3 Batch Operations": "1.00 + 0.25 per job" }]);
// MinIO is this bench's own; the emulators stay up for the next run.
execFileSync("bash", [join(root, "gateways/minio.sh"), "stop", stateDir("minio-bench", 4766)], {
  stdio: ["ignore", "ignore", "inherit"],
});
process.exit(0);
