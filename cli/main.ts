// The s3batch CLI: create, list, show and watch jobs on any s3batch API, read their errors and
// reports, and confirm, cancel or reprioritize them. `--json` writes machine-readable output to
// stdout; bars go to stderr, and only on a terminal. Exit codes: cli/exit.ts.
// Runs under Node (bin/s3batch.mjs) and under Deno (`deno run -A cli/main.ts`).

import { writeFile } from "node:fs/promises";
import {
  CreateJobCommand,
  DescribeJobCommand,
  type JobListDescriptor,
  type JobStatus,
  ListJobsCommand,
  UpdateJobPriorityCommand,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { Command, CommanderError, Option } from "commander";
import type { ProgressView } from "../lib/api/progress-view.ts";
import type { GatewayCapabilities } from "../lib/endpoints/capabilities.ts";
import { JOB_ID_PATTERN, JOB_STATUSES, TERMINAL_STATUSES } from "../lib/jobs/model.ts";
import { parseCsvLine } from "../lib/manifest/csv.ts";
import { Api } from "./client.ts";
import { type CreateFlags, createJobRequest, isDelete } from "./create.ts";
import { EXIT, JobNotComplete, UsageError } from "./exit.ts";
import { Bars, printErrors, printGateways, printJob, printJobs, printSurvey } from "./render.ts";

interface Globals {
  endpointUrl: string;
  accountId?: string;
  region: string;
  profile?: string;
  json?: boolean;
}

const STATUSES = [...JOB_STATUSES].sort();
const TERMINAL = new Set<string>(TERMINAL_STATUSES);
const JOB_ID = JOB_ID_PATTERN;

const stdout = (line: string) => process.stdout.write(`${line}\n`);
const printJson = (value: unknown) => stdout(JSON.stringify(value, null, 2));

function apiOf(cmd: Command): { api: Api; g: Globals } {
  const g = cmd.optsWithGlobals<Globals>();
  const accountId = g.accountId ?? process.env.S3BATCH_ACCOUNT_ID;
  if (!accountId || !/^\d{12}$/.test(accountId))
    throw new UsageError(
      "give --account-id (or set S3BATCH_ACCOUNT_ID): the 12-digit account of your API key",
    );
  let endpoint: URL;
  try {
    endpoint = new URL(g.endpointUrl);
  } catch {
    throw new UsageError(`--endpoint-url is not a URL: ${g.endpointUrl.slice(0, 100)}`);
  }
  return {
    api: new Api({
      endpoint: endpoint.toString().replace(/\/$/, ""),
      accountId,
      region: g.region,
      profile: g.profile,
    }),
    g,
  };
}

function jobIdOf(id: string): string {
  if (!JOB_ID.test(id)) throw new UsageError(`${id.slice(0, 64)} is not a job id`);
  return id;
}

const progressOf = (api: Api, jobId: string) =>
  api.json<ProgressView>(`v20180820/jobs/${encodeURIComponent(jobId)}/progress`);

async function describe(api: Api, jobId: string) {
  const out = await api.call((c) =>
    c.send(new DescribeJobCommand({ AccountId: api.accountId, JobId: jobId })),
  );
  if (!out.Job) throw new Error("DescribeJob returned no job");
  return out.Job;
}

/** Follows a job until it ends; exits 0 for Complete, 1 otherwise. */
async function watch(api: Api, g: Globals, jobId: string, intervalMs: number): Promise<void> {
  const tty = process.stderr.isTTY === true && !g.json;
  const bars = tty ? new Bars(process.stderr) : undefined;
  let p: ProgressView;
  let hinted = false;
  let lastLine = "";
  try {
    for (;;) {
      p = await progressOf(api, jobId);
      if (bars) bars.update(p);
      else if (!g.json) {
        // Without a terminal, a line on stderr when the counts change.
        const line = `${p.status} ${p.tasks.succeeded + p.tasks.failed}/${p.tasks.total} (${p.tasks.failed} failed)`;
        if (line !== lastLine) process.stderr.write(`${line}\n`);
        lastLine = line;
      }
      if (TERMINAL.has(p.status)) break;
      if (p.status === "Suspended" && !hinted) {
        process.stderr.write(`job ${jobId} awaits confirmation: s3batch confirm ${jobId}\n`);
        hinted = true;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    bars?.stop();
  }
  const job = await describe(api, jobId);
  if (g.json) printJson({ job, progress: p });
  else {
    const s = job.ProgressSummary;
    stdout(
      `${jobId} ${job.Status}: ${s?.NumberOfTasksSucceeded ?? 0} succeeded, ${s?.NumberOfTasksFailed ?? 0} failed, of ${s?.TotalNumberOfTasks ?? 0}`,
    );
    for (const f of job.FailureReasons ?? []) stdout(`  ${f.FailureCode}: ${f.FailureReason}`);
  }
  if (job.Status !== "Complete") throw new JobNotComplete(`job ${jobId} ended ${job.Status}`);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Waits for the new job to wait in Suspended, surveys it, and prints the survey. */
async function dryRun(api: Api, g: Globals, jobId: string): Promise<void> {
  let p = await progressOf(api, jobId);
  while (p.status !== "Suspended") {
    if (TERMINAL.has(p.status)) throw new JobNotComplete(`job ${jobId} ended ${p.status} before its survey`);
    await new Promise((r) => setTimeout(r, 500));
    p = await progressOf(api, jobId);
  }
  await api.request("POST", `v20180820/jobs/${encodeURIComponent(jobId)}/survey`);
  if (!g.json) process.stderr.write(`surveying ${jobId} …\n`);
  while (p.survey?.status !== "done") {
    if (p.survey?.status === "failed") throw new JobNotComplete(`the survey of ${jobId} failed`);
    await new Promise((r) => setTimeout(r, 500));
    p = await progressOf(api, jobId);
  }
  if (g.json) printJson({ jobId, status: p.status, survey: p.survey });
  else {
    printSurvey(stdout, p.survey);
    stdout(`${jobId} is Suspended: s3batch confirm ${jobId} runs it`);
  }
}

/** Sends S3DeleteObject in place of the stand-in the SDK serialized (before the body is signed). */
function deleteOnTheWire(command: CreateJobCommand): void {
  command.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { body?: unknown };
      if (typeof req.body === "string")
        req.body = req.body.replace(
          /<S3DeleteObjectTagging\s*\/>|<S3DeleteObjectTagging><\/S3DeleteObjectTagging>/,
          "<S3DeleteObject></S3DeleteObject>",
        );
      return next(args);
    },
    { step: "build", priority: "high", name: "s3batchDeleteObject" },
  );
}

export function program(): Command {
  const prog = new Command("s3batch")
    .description("S3 Batch Operations over a federation of S3 gateways")
    .addOption(
      new Option("--endpoint-url <url>", "the s3batch API").default(
        process.env.S3BATCH_API ?? "http://127.0.0.1:8787",
      ),
    )
    .addOption(new Option("--account-id <id>", "your account (default: S3BATCH_ACCOUNT_ID)"))
    .addOption(
      new Option("--region <region>", "the region to sign for").default(
        process.env.AWS_REGION ?? "us-east-1",
      ),
    )
    .option("--profile <name>", "an AWS profile to take credentials from")
    .option("--json", "machine-readable output on stdout")
    .exitOverride()
    .showHelpAfterError();

  prog
    .command("create")
    .description("create a job")
    .option(
      "--manifest <s3url>",
      "a CSV manifest (or an inventory manifest.json) on a gateway: s3://bucket/key",
    )
    .option("--manifest-file <path>", "a local CSV manifest, uploaded to --manifest-bucket")
    .option("--manifest-bucket <bucket>", "where --manifest-file goes")
    .option("--manifest-key <key>", "its key (default s3batch-manifests/<time>-<name>)")
    .option("--fields <list>", "the manifest's columns", "Bucket,Key")
    .option("--generate <s3url>", "list s3://bucket/prefix on every gateway holding the bucket")
    .option("--created-after <date>", "--generate: objects created after")
    .option("--created-before <date>", "--generate: objects created before")
    .option("--min-size <bytes>", "--generate: objects larger than")
    .option("--max-size <bytes>", "--generate: objects smaller than")
    .option("--storage-class <class>", "--generate: objects of this storage class (repeatable)", collect)
    .option("--cli-input-json <file>", "a CreateJob request as `aws s3control create-job` takes it")
    .option("--tag <key=value>", "S3PutObjectTagging (repeatable)", collect)
    .option("--untag", "S3DeleteObjectTagging")
    .option("--restore-days <n>", "S3InitiateRestoreObject for n days")
    .option("--tier <tier>", "--restore-days: BULK or STANDARD", "BULK")
    .option("--copy-to <s3url>", "S3PutObjectCopy to s3://bucket/prefix")
    .option("--acl <canned>", "S3PutObjectAcl with a canned ACL")
    .option("--legal-hold <ON|OFF>", "S3PutObjectLegalHold")
    .option("--retention <mode:date>", "S3PutObjectRetention, such as GOVERNANCE:2027-01-31")
    .option("--bypass-governance", "--retention: bypass governance retention")
    .option(
      "--checksum <algorithm>",
      "S3ComputeObjectChecksum: CRC32, CRC32C, CRC64NVME, MD5, SHA1 or SHA256",
    )
    .option("--lambda <arn>", "LambdaInvoke")
    .option("--replicate", "S3ReplicateObject")
    .option("--encrypt <kms-key-arn>", "S3UpdateObjectEncryption to SSE-KMS")
    .option("--delete", "S3DeleteObject (s3batch's own; always created with --confirm)")
    .option("--report <s3url>", "write the report to s3://bucket/prefix")
    .option("--report-scope <scope>", "all or failed", "all")
    .option("--priority <n>", "the job's priority")
    .option("--confirm", "hold the job until `s3batch confirm` (ConfirmationRequired)")
    .option("--description <text>", "the job's description")
    .option("--notify <url>", "send the job's state changes to a webhook or an SQS queue URL")
    .option("--verify", "read every effect back; a task whose effect is not there fails EffectNotApplied")
    .option(
      "--role-arn <arn>",
      "the job's RoleArn (default: S3BATCH_ROLE_ARN, or the only role the key may pass)",
    )
    .option("--watch", "then watch the job")
    .option("--dry-run", "create the job waiting for confirmation, survey it, print the survey")
    .action(async (flags: CreateFlags & { watch?: boolean; dryRun?: boolean }, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      if (flags.dryRun && flags.watch)
        throw new UsageError("--dry-run leaves the job waiting: it cannot --watch");
      const request = await createJobRequest(api, { ...flags, ...(flags.dryRun ? { confirm: true } : {}) });
      const command = new CreateJobCommand(request);
      if (isDelete(request.Operation)) deleteOnTheWire(command);
      const out = await api.call((c) => c.send(command));
      const jobId = out.JobId ?? "";
      if (flags.dryRun) return dryRun(api, g, jobId);
      if (flags.watch) {
        if (!g.json) process.stderr.write(`created ${jobId}\n`);
        return watch(api, g, jobId, 1000);
      }
      if (g.json) printJson({ jobId });
      else stdout(jobId);
    });

  prog
    .command("ls")
    .description("list jobs, newest first")
    .option("--status <status>", `only jobs in this status (repeatable): ${STATUSES.join(", ")}`, collect)
    .action(async (flags: { status?: string[] }, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      for (const s of flags.status ?? [])
        if (!STATUSES.includes(s as JobStatus)) throw new UsageError(`unknown status ${s.slice(0, 32)}`);
      const jobs: JobListDescriptor[] = [];
      let token: string | undefined;
      for (let page = 0; page < 100; page++) {
        const out = await api.call((c) =>
          c.send(
            new ListJobsCommand({
              AccountId: api.accountId,
              ...(flags.status?.length ? { JobStatuses: flags.status as JobStatus[] } : {}),
              ...(token ? { NextToken: token } : {}),
            }),
          ),
        );
        jobs.push(...(out.Jobs ?? []));
        token = out.NextToken;
        if (!token) break;
      }
      jobs.sort((a, b) => (b.CreationTime?.getTime() ?? 0) - (a.CreationTime?.getTime() ?? 0));
      if (g.json) printJson({ jobs });
      else printJobs(stdout, jobs);
    });

  prog
    .command("show")
    .argument("<job>")
    .description("everything DescribeJob knows, with per-endpoint progress")
    .action(async (id: string, _flags: object, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      const jobId = jobIdOf(id);
      const [job, progress] = await Promise.all([describe(api, jobId), progressOf(api, jobId)]);
      if (g.json) printJson({ job, progress });
      else printJob(stdout, job, progress);
    });

  prog
    .command("watch")
    .argument("<job>")
    .description("live progress until the job ends; exits 0 when it ends Complete")
    .option("--interval <seconds>", "between redraws", "1")
    .action(async (id: string, flags: { interval: string }, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      const seconds = Number(flags.interval);
      if (!(seconds >= 0.2 && seconds <= 60)) throw new UsageError("--interval is 0.2 to 60 seconds");
      await watch(api, g, jobIdOf(id), seconds * 1000);
    });

  prog
    .command("gateways")
    .description("what each gateway can do, as its last capability probe found (and when)")
    .action(async (_flags: object, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      const { gateways } = await api.json<{ gateways: GatewayCapabilities[] }>("v20180820/s3batch/gateways");
      if (g.json) printJson({ gateways });
      else printGateways(stdout, gateways);
    });

  prog
    .command("errors")
    .argument("<job>")
    .description("failed tasks by endpoint, HTTP status and error code, with sample keys")
    .action(async (id: string, _flags: object, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      const p = await progressOf(api, jobIdOf(id));
      if (g.json) printJson({ jobId: p.jobId, status: p.status, final: p.errorsFinal, errors: p.errors });
      else printErrors(stdout, p);
    });

  prog
    .command("report")
    .argument("<job>")
    .description("the report's rows, from a gateway holding it")
    .option("--failed", "only the failed tasks")
    .option("--out <file>", "write them to a file")
    .option("--role-arn <arn>", "read it as this role (default: the job's)")
    .action(async (id: string, flags: { failed?: boolean; out?: string; roleArn?: string }, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      const jobId = jobIdOf(id);
      const statuses = flags.failed ? ["failed"] : ["succeeded", "failed"];
      let csv = "";
      for (const status of statuses) {
        const res = await api.request("GET", `v20180820/jobs/${encodeURIComponent(jobId)}/report`, {
          status,
          ...(flags.roleArn ? { role: flags.roleArn } : {}),
        });
        csv += await res.text();
      }
      if (g.json) {
        const rows = csv
          .split("\n")
          .filter((l) => l.length > 0)
          .map(reportRow);
        if (flags.out) await writeFile(flags.out, JSON.stringify(rows));
        else printJson({ jobId, rows });
      } else if (flags.out) await writeFile(flags.out, csv);
      else process.stdout.write(csv);
    });

  const statusChange = (name: string, to: "Ready" | "Cancelled", what: string) =>
    prog
      .command(name)
      .argument("<job>")
      .description(what)
      .action(async (id: string, _flags: object, cmd: Command) => {
        const { api, g } = apiOf(cmd);
        const out = await api.call((c) =>
          c.send(
            new UpdateJobStatusCommand({
              AccountId: api.accountId,
              JobId: jobIdOf(id),
              RequestedJobStatus: to,
            }),
          ),
        );
        if (g.json) printJson({ jobId: out.JobId, status: out.Status });
        else stdout(`${out.JobId} ${out.Status}`);
      });
  statusChange("confirm", "Ready", "run a job created with --confirm");
  statusChange("cancel", "Cancelled", "cancel a job");

  prog
    .command("priority")
    .argument("<job>")
    .argument("<n>")
    .description("set a job's priority")
    .action(async (id: string, n: string, _flags: object, cmd: Command) => {
      const { api, g } = apiOf(cmd);
      if (!/^\d{1,10}$/.test(n) || Number(n) > 2147483647)
        throw new UsageError("the priority is 0 to 2147483647");
      const out = await api.call((c) =>
        c.send(
          new UpdateJobPriorityCommand({ AccountId: api.accountId, JobId: jobIdOf(id), Priority: Number(n) }),
        ),
      );
      if (g.json) printJson({ jobId: out.JobId, priority: out.Priority });
      else stdout(`${out.JobId} priority ${out.Priority}`);
    });

  return prog;
}

/** A report row: Bucket, Key, [VersionId,] TaskStatus, HTTP status, error code, message. */
function reportRow(line: string) {
  const f = parseCsvLine(line) ?? [line];
  const withVersion = f.length >= 7;
  const [bucket = "", key = ""] = f;
  const rest = f.slice(withVersion ? 3 : 2);
  return {
    bucket,
    key,
    ...(withVersion && f[2] ? { versionId: f[2] } : {}),
    status: rest[0] ?? "",
    http: Number(rest[1] ?? 0),
    code: rest[2] ?? "",
    message: rest[3] ?? "",
  };
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const code = (err as { exitCode?: number }).exitCode ?? EXIT.failed;
    process.stderr.write(`s3batch: ${(err as Error).message}\n`);
    return code;
  }
}

const isMain =
  (import.meta as { main?: boolean }).main === true || process.argv[1]?.endsWith("/cli/main.ts") === true;
if (isMain) process.exitCode = await main(process.argv.slice(2));
