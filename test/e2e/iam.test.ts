// The deployment's IAM role is sufficient and least-privilege. The whole control plane (API,
// dispatch, children, poll, merge, their queue loops) runs against a control endpoint behind a
// proxy that plays IAM with only the generated template's role statements, resolved to local
// ARNs: every request is mapped to its IAM action and resource and refused, as AWS refuses it,
// unless a statement allows it (test/helpers/iam-policy.ts; checked first: an action the role
// lacks really is refused). Jobs take every control-plane path: the seed restore, a cancel, a
// priority step-aside, merge retries (every job's first merge delivery fails), an inventory
// manifest (and one whose data file fails its MD5 after a multipart part), and LambdaInvoke
// through lambda:InvokeFunction (a stand-in Lambda API, judged the same way). Then: no request
// was refused, every action the role grants is needed by one of the requests (so removing any
// fails the test), and no statement names "*".
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { gzipSync } from "node:zlib";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { UpdateJobStatusCommand } from "@aws-sdk/client-s3-control";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadSettings } from "../../lib/settings.ts";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { type LocalRuntime, startLocalRuntime } from "../../runtime/local/runtime.ts";
import {
  ACCOUNT_ID,
  gatewayClient,
  s3ControlClient,
  TEST_CREDENTIALS,
  TEST_ROLES,
} from "../helpers/clients.ts";
import { allowed, type Needed, type Statement, startEnforcingProxy } from "../helpers/iam-policy.ts";
import { createJob, createJobInput, describeJob, runReportedJob, waitForJob } from "../helpers/jobs.ts";
import {
  createTemplateQueues,
  type Locals,
  packaged,
  resolve,
  type Template,
} from "../helpers/lambda-harness.ts";
import { EVERY_OBJECT_EXISTS, keyOf, mixedScenario } from "../helpers/mixed-scenario.ts";
import { expectSeedOutcome, expectSeedReport, seedScenario } from "../helpers/seed.ts";

// LocalStack's account: the queues' ARNs name it, and so does the role once resolved.
const ACCOUNT = "000000000000";
const REGION = "us-east-1";
const LAMBDA_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3batch-invoke-echo`;
const emulators = inject("emulators");
const admin = { region: REGION, endpoint: emulators.control, credentials: TEST_CREDENTIALS };
const id = randomUUID().slice(0, 8);
const a = gatewayClient(emulators.gatewayA);
const b = gatewayClient(emulators.gatewayB);

let template: Template;
let statements: Statement[];
let proxy: Awaited<ReturnType<typeof startEnforcingProxy>>;
let runtime: LocalRuntime;
let control: ReturnType<typeof s3ControlClient>;
let lambda: Server;
const lambdaCalls: Needed[] = [];

/** The internal bucket and the queues, on the control endpoint, as the template has them. */
async function resources(): Promise<Locals> {
  const locals: Locals = { refs: {}, arns: {}, partition: "aws", region: REGION, accountId: ACCOUNT };
  const s3 = new S3Client({ ...admin, forcePathStyle: true });
  const bucket = `s3batch-iam-${id}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  locals.refs.InternalBucket = bucket;
  locals.arns.InternalBucket = `arn:aws:s3:::${bucket}`;
  const sqs = new SQSClient(admin);
  // Short visibility, as the local runtime's loops (which extend it) expect.
  await createTemplateQueues(sqs, template, locals, `i-${id}`, (props) => ({
    VisibilityTimeout: "10",
    ...(props.RedrivePolicy ? { RedrivePolicy: JSON.stringify(props.RedrivePolicy) } : {}),
  }));
  s3.destroy();
  sqs.destroy();
  return locals;
}

/** A stand-in for the Lambda API: Invoke answers every task Succeeded, and is recorded. */
async function startLambda(): Promise<string> {
  lambda = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const name = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(req.url ?? "")?.[1] ?? "");
    const arn = name.startsWith("arn:") ? name : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    const need: Needed = { action: "lambda:InvokeFunction", resource: arn, what: `Invoke ${name}` };
    lambdaCalls.push(need);
    if (!allowed(statements, need.action, need.resource)) {
      need.status = 403;
      res.writeHead(403, { "content-type": "application/json", "x-amzn-errortype": "AccessDeniedException" });
      res.end(JSON.stringify({ Message: `not authorized to perform: lambda:InvokeFunction on ${arn}` }));
      return;
    }
    need.status = 200;
    const payload = JSON.parse(Buffer.concat(chunks).toString()) as {
      tasks: { taskId: string }[];
      invocationId: string;
    };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        invocationSchemaVersion: "1.0",
        treatMissingKeysAs: "PermanentFailure",
        invocationId: payload.invocationId,
        results: payload.tasks.map((t) => ({
          taskId: t.taskId,
          resultCode: "Succeeded",
          resultString: "echoed",
        })),
      }),
    );
  });
  await new Promise<void>((r) => lambda.listen(0, "127.0.0.1", () => r()));
  const address = lambda.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

beforeAll(async () => {
  template = packaged();
  const locals = await resources();
  const role = Object.values(template.Resources).find((r) => r.Type === "AWS::IAM::Role");
  statements = resolve(role?.Properties.Policies, locals).flatMap(
    (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
  );
  proxy = await startEnforcingProxy(emulators.control, () => statements, ACCOUNT, REGION);
  const Bucket = locals.refs.InternalBucket ?? "";

  // The proxy really refuses: an action the role lacks, and a resource it does not name.
  const probe = new S3Client({
    region: REGION,
    endpoint: proxy.url,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
  });
  await probe.send(new PutObjectCommand({ Bucket, Key: "probe", Body: "x" }));
  await probe.send(new DeleteObjectCommand({ Bucket, Key: "probe" }));
  for (const refused of [
    () => probe.send(new CreateBucketCommand({ Bucket: `not-granted-${id}` })),
    () => probe.send(new PutObjectCommand({ Bucket: "pool2", Key: "x", Body: "x" })),
  ])
    await expect(refused()).rejects.toSatisfy(
      (e) =>
        e instanceof S3ServiceException && e.name === "AccessDenied" && e.$metadata.httpStatusCode === 403,
    );
  probe.destroy();
  proxy.needed.length = 0;

  // The control plane, behind the proxy; Lambda calls go to the stand-in. The keys are the
  // emulator's: what they may do is the proxy's to judge.
  process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
  process.env.AWS_ENDPOINT_URL_LAMBDA = await startLambda();
  const settings = loadSettings({
    AWS_ENDPOINT_URL: proxy.url,
    AWS_REGION: REGION,
    S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
    S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
    S3BATCH_ROLES: TEST_ROLES,
    S3BATCH_INTERNAL_BUCKET: Bucket,
    S3BATCH_QUEUE_URL_DISPATCH: locals.refs.DispatchQueue,
    S3BATCH_QUEUE_URL_CHILD: locals.refs.ChildQueue,
    S3BATCH_QUEUE_URL_POLL: locals.refs.PollQueue,
    S3BATCH_QUEUE_URL_MERGE: locals.refs.MergeQueue,
    S3BATCH_POLL_DELAY_SECONDS: "1",
    S3BATCH_SHARD_ROWS: "40",
    S3BATCH_REPORT_PART_BYTES: String(5 * 1024 * 1024),
    S3BATCH_LOG_LEVEL: "warn",
  });
  // Every job's first merge delivery fails: each report is written by a merge retry.
  const failedOnce = new Set<string>();
  runtime = await startLocalRuntime({
    settings,
    port: 0,
    childWorkers: 2,
    createBucket: false,
    wrap: (queue, handler) =>
      queue !== "merge"
        ? handler
        : async (event, invocation) => {
            const body = event.Records[0]?.body ?? "";
            if (!failedOnce.has(body)) {
              failedOnce.add(body);
              throw new Error("injected: the first merge delivery fails");
            }
            return handler(event, invocation);
          },
  });
  control = s3ControlClient(runtime.url);
}, 240_000);

afterAll(async () => {
  control?.destroy();
  await runtime?.stop();
  await proxy?.close();
  lambda?.close();
  a.destroy();
  b.destroy();
});

describe("the role in the template", () => {
  it("runs every control-plane path with nothing but its statements", async () => {
    // The seed restore job.
    const seed = await seedScenario(a, b);
    const seedJob = await createJob(
      control,
      createJobInput(seed, { S3InitiateRestoreObject: { ExpirationInDays: 1, GlacierJobTier: "BULK" } }),
    );
    expectSeedOutcome(await waitForJob(control, seedJob, undefined, 120_000));
    await expectSeedReport(a, b, seedJob);

    // A low-priority job, then a high-priority one that makes its children step aside, then a
    // cancel of the low one while it runs, and a cancel of a job waiting for confirmation.
    const bucket = `iam-${id}`;
    const many = await mixedScenario(a, b, bucket, 600, EVERY_OBJECT_EXISTS);
    const tag = { S3PutObjectTagging: { TagSet: [{ Key: "iam", Value: "least" }] } };
    const low = await createJob(control, createJobInput(many.manifest, tag, { Priority: 1 }));
    await waitForJob(control, low, new Set(["Active"]), 60_000);
    const high = await createJob(control, createJobInput(seed, tag, { Priority: 1000 }));
    await control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT_ID, JobId: low, RequestedJobStatus: "Cancelled" }),
    );
    expect((await waitForJob(control, high, undefined, 120_000)).Status).toBe("Complete");
    expect((await waitForJob(control, low, undefined, 120_000)).Status).toBe("Cancelled");
    const parked = await createJob(control, createJobInput(seed, tag, { ConfirmationRequired: true }));
    await waitForJob(control, parked, new Set(["Suspended"]), 60_000);
    await control.send(
      new UpdateJobStatusCommand({ AccountId: ACCOUNT_ID, JobId: parked, RequestedJobStatus: "Cancelled" }),
    );
    expect((await describeJob(control, parked)).Status).toBe("Cancelled");

    // LambdaInvoke through lambda:InvokeFunction.
    const invoked = await runReportedJob(
      control,
      a,
      bucket,
      createJobInput(many.manifest, {
        LambdaInvoke: { FunctionArn: LAMBDA_ARN, InvocationSchemaVersion: "1.0" },
      }),
      { timeoutMs: 120_000 },
    );
    expect(invoked.job.ProgressSummary).toMatchObject({
      NumberOfTasksSucceeded: 600,
      NumberOfTasksFailed: 0,
    });

    // An inventory manifest; and one whose data file (over one 5 MiB part) fails its MD5.
    const inventory = async (rows: number, md5: (real: string) => string) => {
      let csv = "";
      for (let i = 0; i < rows; i++) csv += `"${bucket}","${keyOf(i % 600)}"\n`;
      const gz = gzipSync(csv);
      const dataKey = `inv/${randomUUID()}/data.csv.gz`;
      await a.send(new PutObjectCommand({ Bucket: bucket, Key: dataKey, Body: gz }));
      const real = (await import("node:crypto")).createHash("md5").update(gz).digest("hex");
      const doc = {
        sourceBucket: bucket,
        destinationBucket: `arn:aws:s3:::${bucket}`,
        version: "2016-11-30",
        creationTimestamp: String(Date.now()),
        fileFormat: "CSV",
        fileSchema: "Bucket, Key",
        files: [{ key: dataKey, size: gz.length, MD5checksum: md5(real) }],
      };
      const put = await a.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${dataKey}.json`, Body: JSON.stringify(doc) }),
      );
      return runReportedJob(
        control,
        a,
        bucket,
        createJobInput({ arn: `arn:aws:s3:::${bucket}/${dataKey}.json`, etag: put.ETag ?? "" }, tag, {
          Manifest: {
            Spec: { Format: "S3InventoryReport_CSV_20161130" },
            Location: { ObjectArn: `arn:aws:s3:::${bucket}/${dataKey}.json`, ETag: put.ETag ?? "" },
          },
        }),
        { timeoutMs: 120_000 },
      );
    };
    expect((await inventory(600, (m) => m)).job.Status).toBe("Complete");
    const bad = await inventory(300_000, () => "0".repeat(32));
    expect(bad.job.Status).toBe("Failed");
    expect(bad.job.FailureReasons?.[0]?.FailureCode).toBe("InvalidManifestContent");

    // Assess: every request was granted; every granted action was needed; no "*".
    const needed = [...proxy.needed, ...lambdaCalls];
    const refused = needed.filter((n) => !allowed(statements, n.action, n.resource));
    expect(refused.map((d) => `${d.action} ${d.resource} (${d.what})`)).toEqual([]);
    const granted = new Set(
      statements.flatMap((s) => [s.Action].flat()).filter((x) => !x.startsWith("logs:")),
    );
    const unneeded = [...granted].filter((action) => {
      const without = statements.map((s) => ({
        ...s,
        Action: [s.Action].flat().filter((x) => x !== action),
      }));
      return needed.every((n) => allowed(without, n.action, n.resource));
    });
    expect(unneeded).toEqual([]);
    for (const s of statements) {
      expect([s.Resource].flat()).not.toContain("*");
      for (const action of [s.Action].flat()) expect(action).not.toMatch(/^\*$|:\*$/);
    }
    expect(lambdaCalls.length).toBeGreaterThanOrEqual(600);
  }, 600_000);
});
