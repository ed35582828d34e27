// What authorization costs. Part 1, in-process: the per-task cost of asking a job's role (the
// accesses a task needs, evaluated by lib/auth) for roles of 1, 10 and 100 statements with
// conditions, beside @cloud-copilot/iam-simulate evaluating the same requests. Part 2, end to end:
// a 10,000-task tagging job over both emulated gateways through the local runtime, its role a
// one-statement policy, then a 100-statement one (the most a policy may have) whose allowing
// statement is the last, alternating, 2 rounds each: CreateJob to Complete, seconds.
// Run: node --import tsx bench/authorize.ts [--tasks 10000] [--rounds 2] [--skip-job]
import { randomUUID } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { Authority } from "../lib/auth/authorize.ts";
import { parseRoles } from "../lib/auth/roles.ts";
import { taskNeeds } from "../lib/operations/needs.ts";
import { ensureQueues, queueEnv } from "../lib/provision.ts";
import { loadSettings } from "../lib/settings.ts";
import { emulatedEndpoints } from "../runtime/common/emulated.ts";
import { startEmulators } from "../runtime/local/emulators.ts";
import { startLocalRuntime } from "../runtime/local/runtime.ts";
import { ACCOUNT_ID, gatewayClient, s3ControlClient, TEST_CREDENTIALS } from "../test/helpers/clients.ts";
import { createJobInput, createReportedJob, finishReportedJob } from "../test/helpers/jobs.ts";
import { mixedScenario } from "../test/helpers/mixed-scenario.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return (i > 0 ? process.argv[i + 1] : undefined) ?? def;
};
const TASKS = Number(arg("tasks", "10000"));
const ROUNDS = Number(arg("rounds", "2"));
const ROLE = `arn:aws:iam::${ACCOUNT_ID}:role/bench`;

/** A policy of `n` statements; only the last allows the bench's buckets. */
function policyOf(n: number) {
  // Compact, so that 100 statements stay within the 10,240-byte bound; every fourth has a condition.
  const filler = Array.from({ length: n - 1 }, (_, i) => ({
    Effect: i % 3 === 0 ? "Deny" : "Allow",
    Action: "s3:Put*",
    Resource: `arn:aws:s3:::t${i}-*/*`,
    ...(i % 4 === 0 ? { Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } } : {}),
  }));
  return {
    Version: "2012-10-17",
    Statement: [
      ...filler,
      { Sid: "Bench", Effect: "Allow", Action: "s3:*", Resource: ["arn:aws:s3:::*", "arn:aws:s3:::*/*"] },
    ],
  };
}

const rolesOf = (n: number) => JSON.stringify([{ arn: ROLE, policy: policyOf(n) }]);

// Part 1: the evaluator alone.
const needs = taskNeeds({ S3PutObjectTagging: { TagSet: [{ Key: "k", Value: "v" }] } });
const rows = Array.from({ length: 100_000 }, (_, i) => ({
  index: i,
  bucket: "bench-bucket",
  rawKey: `k/${i}`,
  key: `k/${i}`,
}));
const micro: Record<string, number | string>[] = [];
for (const n of [1, 10, 100]) {
  const auth = new Authority(parseRoles(rolesOf(n), []), "s3batch-internal").actingAs(ROLE, {
    sourceIp: "10.1.2.3",
  });
  for (const row of rows.slice(0, 5_000)) auth.check(...needs(row)); // warm up
  const started = process.hrtime.bigint();
  let denied = 0;
  for (const row of rows) if (auth.check(...needs(row))) denied++;
  const us = Number(process.hrtime.bigint() - started) / 1000 / rows.length;
  if (denied > 0) throw new Error("the bench role denied a task");
  let simUs = Number.NaN;
  {
    const policy = policyOf(n);
    const count = 500;
    const t0 = process.hrtime.bigint();
    for (const row of rows.slice(0, count)) {
      const out = await runSimulation(
        {
          identityPolicies: [{ name: "p", policy: policy as never }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: {
            action: "s3:PutObjectTagging",
            principal: ROLE,
            resource: { accountId: ACCOUNT_ID, resource: `arn:aws:s3:::bench-bucket/${row.key}` },
            contextVariables: { "aws:SourceIp": "10.1.2.3" },
          },
        },
        {},
      );
      if (out.resultType !== "single" || out.overallResult !== "Allowed")
        throw new Error("iam-simulate denied");
    }
    simUs = Number(process.hrtime.bigint() - t0) / 1000 / count;
  }
  micro.push({
    statements: n,
    "s3batch µs/task": Number(us.toFixed(2)),
    "iam-simulate µs/task": Number(simUs.toFixed(1)),
    "tasks/s on one core": Math.round(1e6 / us),
  });
}
console.log(JSON.stringify({ benchmark: "authorize-per-task", tasks: rows.length, results: micro }));
console.table(micro);

// Part 2: a 10,000-task job, one-statement role against a 100-statement one.
if (!process.argv.includes("--skip-job")) {
  const urls = startEmulators();
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  const a = gatewayClient(urls.gatewayA);
  const b = gatewayClient(urls.gatewayB);
  const bucket = `authz-${randomUUID().slice(0, 8)}`;
  process.stderr.write(`writing ${TASKS} rows' objects to both gateways...\n`);
  const scenario = await mixedScenario(a, b, bucket, TASKS, ["a", "b", "both"]);
  const sqs = new SQSClient({ region: "us-east-1", endpoint: urls.control, credentials: TEST_CREDENTIALS });
  const times: Record<number, number[]> = { 1: [], 100: [] };
  for (let round = 0; round < ROUNDS; round++)
    for (const n of [1, 100]) {
      const id = randomUUID().slice(0, 8);
      const queues = await ensureQueues(sqs, `authz-${id}`);
      const settings = loadSettings({
        AWS_ENDPOINT_URL: urls.control,
        S3BATCH_ENDPOINTS: emulatedEndpoints(urls, TEST_CREDENTIALS),
        S3BATCH_INTERNAL_BUCKET: `s3batch-authz-${id}`,
        ...queueEnv(queues),
        S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
        S3BATCH_ROLES: rolesOf(n),
        S3BATCH_LOG_LEVEL: "warn",
      });
      const runtime = await startLocalRuntime({ settings, port: 0 });
      const control = s3ControlClient(runtime.url);
      const started = performance.now();
      const created = await createReportedJob(
        control,
        bucket,
        createJobInput(
          scenario.manifest,
          { S3PutObjectTagging: { TagSet: [{ Key: "r", Value: `${round}-${n}` }] } },
          { RoleArn: ROLE },
        ),
      );
      const done = await finishReportedJob(control, a, bucket, created, 30 * 60_000);
      const seconds = (performance.now() - started) / 1000;
      if (done.job.Status !== "Complete" || done.job.ProgressSummary?.NumberOfTasksFailed !== 0)
        throw new Error(
          `round ${round}, ${n} statements: ${done.job.Status}, ${done.job.ProgressSummary?.NumberOfTasksFailed} failed`,
        );
      times[n]?.push(seconds);
      process.stderr.write(`round ${round + 1}: ${n} statement(s): ${seconds.toFixed(1)} s\n`);
      control.destroy();
      await runtime.stop();
    }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const job = {
    tasks: TASKS,
    rounds: ROUNDS,
    "1 statement s": times[1]?.map((x) => Number(x.toFixed(1))).join(", "),
    "100 statements s": times[100]?.map((x) => Number(x.toFixed(1))).join(", "),
    "ratio 100/1": Number((mean(times[100] ?? []) / mean(times[1] ?? [])).toFixed(3)),
  };
  console.log(JSON.stringify({ benchmark: "authorize-job", ...job }));
  console.table([job]);
  for (const c of [a, b, sqs]) c.destroy();
}
process.exit(0);
