// The deployed artifact, run as Lambda would run it: the zips `osls package` writes, each function
// in a process of its own (lambda-host.mjs) with its template entry's handler and environment;
// its queues' event source mappings played by pumps that receive with the template's batch size,
// invoke with Lambda-shaped SQS events and honour partial-batch responses; the HTTP API played by
// an SDK request handler that turns every signed request into an API Gateway HTTP API (payload
// 2.0) event. Every event is validated against Powertools' schemas before it is delivered.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { APIGatewayProxyEventV2Schema, SqsSchema } from "@aws-lambda-powertools/parser/schemas";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { type HttpRequest, HttpResponse } from "@smithy/protocol-http";

const root = join(import.meta.dirname, "../..");
const out = join(root, ".serverless");

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON
type Json = any;
export type Template = { Resources: Record<string, { Type: string; Properties: Record<string, Json> }> };

/** Packages with osls unless `.serverless` is newer than every source it is built from. */
export function packaged(): Template {
  const template = join(out, "cloudformation-template-update-stack.json");
  const newest = (dir: string): number => {
    let t = 0;
    for (const entry of execFileSync("git", ["ls-files", "-co", "--exclude-standard", dir], {
      cwd: root,
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean))
      if (existsSync(join(root, entry))) t = Math.max(t, statSync(join(root, entry)).mtimeMs);
    return t;
  };
  const sources = Math.max(
    newest("lib"),
    newest("functions"),
    newest("serverless.yml"),
    newest("package-lock.json"),
  );
  if (!existsSync(template) || statSync(template).mtimeMs < sources) {
    execFileSync("npx", ["osls", "package", "--stage", "ci"], {
      cwd: root,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" },
      stdio: "pipe",
    });
  }
  return JSON.parse(readFileSync(template, "utf8"));
}

/** Unzips one function's artifact into a fresh directory. */
export function unpack(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `s3batch-${name}-`));
  execFileSync("python3", ["-m", "zipfile", "-e", join(out, `${name}.zip`), dir]);
  return dir;
}

export interface Locals {
  /** What `Ref` of a logical id is here (a bucket name, a queue URL). */
  refs: Record<string, string>;
  /** What `Fn::GetAtt [id, Arn]` is here. */
  arns: Record<string, string>;
  partition: string;
  region: string;
  accountId: string;
}

/**
 * Creates the template's queues on `sqs` (dead-letter queues first: the others' redrive policies
 * name them) as `<prefix>-<logical id>`, with the attributes `attributes` makes of each queue's
 * resolved properties, and records their URLs and ARNs in `locals`.
 */
export async function createTemplateQueues(
  sqs: SQSClient,
  t: Template,
  locals: Locals,
  prefix: string,
  attributes: (props: Record<string, unknown>) => Record<string, string>,
): Promise<void> {
  const queues = Object.entries(t.Resources).filter(([, r]) => r.Type === "AWS::SQS::Queue");
  queues.sort(([x], [y]) => Number(!x.endsWith("DLQ")) - Number(!y.endsWith("DLQ")));
  for (const [logical, r] of queues) {
    const props = resolve(r.Properties, locals) as Record<string, unknown>;
    const created = await sqs.send(
      new CreateQueueCommand({ QueueName: `${prefix}-${logical}`, Attributes: attributes(props) }),
    );
    const arn = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: created.QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    locals.refs[logical] = created.QueueUrl ?? "";
    locals.arns[logical] = arn.Attributes?.QueueArn ?? "";
  }
}

/** Resolves the intrinsic functions a template uses against local values. */
export function resolve(value: Json, l: Locals): Json {
  if (Array.isArray(value)) return value.map((v) => resolve(v, l));
  if (!value || typeof value !== "object") return value;
  if ("Ref" in value) {
    const r = l.refs[value.Ref];
    if (r === undefined) throw new Error(`no local value for Ref ${value.Ref}`);
    return r;
  }
  if ("Fn::GetAtt" in value) {
    const [id, attr] = value["Fn::GetAtt"];
    if (attr !== "Arn" || l.arns[id] === undefined)
      throw new Error(`no local value for GetAtt ${id}.${attr}`);
    return l.arns[id];
  }
  if ("Fn::Join" in value) {
    const [sep, parts] = value["Fn::Join"];
    return (resolve(parts, l) as string[]).join(sep);
  }
  if ("Fn::Split" in value) {
    const [sep, text] = value["Fn::Split"];
    return (resolve(text, l) as string).split(sep);
  }
  if ("Fn::Sub" in value) {
    const text = value["Fn::Sub"] as string;
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      const known: Record<string, string> = {
        "AWS::Partition": l.partition,
        "AWS::Region": l.region,
        "AWS::AccountId": l.accountId,
      };
      const v = known[name] ?? l.refs[name];
      if (v === undefined) throw new Error(`no local value for \${${name}}`);
      return v;
    });
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, l)]));
}

/** One function's process. */
export class LambdaHost {
  private proc: ChildProcess | undefined;
  private port = 0;
  private running = true;
  invocations = 0;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly handler: string,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    const proc = spawn(process.execPath, [join(root, "test/helpers/lambda-host.mjs")], {
      cwd: root,
      env: {
        ...process.env,
        ...this.env,
        LAMBDA_BUNDLE_DIR: this.dir,
        LAMBDA_HANDLER: this.handler,
        LAMBDA_NAME: this.name,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    let seen = "";
    this.port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start:\n${seen}`)), 60_000);
      proc.stdout?.on("data", (c: Buffer) => {
        seen += c.toString();
        const m = /LAMBDA_HOST_PORT=(\d+)/.exec(seen);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
      proc.stderr?.on("data", (c: Buffer) => {
        seen = (seen + c.toString()).slice(-4000);
      });
      proc.once("exit", (code) => reject(new Error(`${this.name} exited with ${code}:\n${seen}`)));
    });
    // A function that dies mid-test says why.
    proc.once("exit", (code, signal) => {
      if (this.running) console.error(`${this.name} exited (${code ?? signal}):\n${seen.slice(-3000)}`);
    });
  }

  async invoke<R>(event: unknown, remainingMs: number): Promise<R> {
    this.invocations++;
    const res = await fetch(`http://127.0.0.1:${this.port}/`, {
      method: "POST",
      body: JSON.stringify({ event, remainingMs }),
    });
    const body = (await res.json()) as R;
    if (res.headers.get("x-amz-function-error"))
      throw new Error(`${this.name} failed: ${JSON.stringify(body)}`);
    return body;
  }

  stop(): void {
    this.running = false;
    this.proc?.kill("SIGTERM");
  }
}

/** Starts every function of the template from its artifact, with its resolved environment. */
export async function startFunctions(
  template: Template,
  locals: Locals,
  overrides: Record<string, string>,
): Promise<Map<string, LambdaHost>> {
  const hosts = new Map<string, LambdaHost>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== "AWS::Lambda::Function") continue;
    const name = String(r.Properties.Handler).split("/")[1]?.split(".")[0] ?? id;
    const env = resolve(r.Properties.Environment.Variables, locals) as Record<string, string>;
    const host = new LambdaHost(name, unpack(name), r.Properties.Handler, { ...env, ...overrides });
    await host.start();
    hosts.set(id, host);
  }
  return hosts;
}

/**
 * An SQS event source mapping: receives up to `batchSize` messages, invokes the function with an
 * SQS event (validated), deletes the records the function did not report as failed. With
 * `duplicate`, every batch is delivered twice, at once, as SQS may.
 */
export class SqsEventSource {
  private running = true;
  private loops: Promise<void>[] = [];
  batches = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly host: LambdaHost,
    private readonly o: {
      queueUrl: string;
      queueArn: string;
      batchSize: number;
      concurrency: number;
      duplicate: () => boolean;
      remainingMs: number;
    },
  ) {}

  start(): void {
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const got = await this.sqs
        .send(
          new ReceiveMessageCommand({
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: this.o.batchSize,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
        )
        .catch((err) => {
          if (this.running) throw err;
          return { Messages: [] };
        });
      const messages = got.Messages ?? [];
      if (messages.length === 0) continue;
      const event = SqsSchema.parse({
        Records: messages.map((m) => ({
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body,
          attributes: {
            ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
            SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
            SenderId: m.Attributes?.SenderId ?? "AIDAS3BATCHLOCAL",
            ApproximateFirstReceiveTimestamp:
              m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: m.MD5OfBody,
          eventSource: "aws:sqs",
          eventSourceARN: this.o.queueArn,
          awsRegion: "us-east-1",
        })),
      });
      this.batches++;
      const deliveries = this.o.duplicate() ? 2 : 1;
      const results = await Promise.all(
        Array.from({ length: deliveries }, () =>
          this.host.invoke<{ batchItemFailures: { itemIdentifier: string }[] }>(event, this.o.remainingMs),
        ),
      );
      const failed = new Set(results.flatMap((r) => r.batchItemFailures.map((f) => f.itemIdentifier)));
      const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
      if (done.length > 0)
        await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.o.queueUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled(this.loops);
  }
}

/** An SDK request handler that delivers each request to the api function as an HTTP API event. */
export function apiGatewayHandler(api: LambdaHost) {
  return {
    async handle(request: HttpRequest) {
      const query = Object.entries(request.query ?? {}).flatMap(([k, v]) =>
        [v ?? ""].flat().map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x as string)}`),
      );
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]),
      );
      const host = headers.host ?? `${request.hostname}${request.port ? `:${request.port}` : ""}`;
      headers.host = host;
      const body =
        request.body === undefined || request.body === null
          ? undefined
          : typeof request.body === "string"
            ? request.body
            : Buffer.from(request.body as Uint8Array).toString("utf8");
      const now = new Date();
      const event = APIGatewayProxyEventV2Schema.parse({
        version: "2.0",
        routeKey: "$default",
        rawPath: request.path,
        rawQueryString: query.join("&"),
        headers,
        ...(query.length
          ? {
              queryStringParameters: Object.fromEntries(
                Object.entries(request.query ?? {}).map(([k, v]) => [k, [v].flat().join(",")]),
              ),
            }
          : {}),
        requestContext: {
          accountId: "123456789012",
          apiId: "s3batchlocal",
          domainName: host,
          domainPrefix: host.split(".")[0],
          http: {
            method: request.method,
            path: request.path,
            protocol: "HTTP/1.1",
            sourceIp: "127.0.0.1",
            userAgent: headers["user-agent"] ?? "aws-sdk",
          },
          requestId: crypto.randomUUID(),
          routeKey: "$default",
          stage: "$default",
          time: now.toUTCString(),
          timeEpoch: now.getTime(),
        },
        ...(body ? { body } : {}),
        isBase64Encoded: false,
      });
      const result = await api.invoke<{
        statusCode: number;
        headers?: Record<string, string>;
        body?: string;
        isBase64Encoded?: boolean;
      }>(event, 29_000);
      const bytes = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
      return {
        response: new HttpResponse({
          statusCode: result.statusCode,
          headers: result.headers ?? {},
          body: Readable.from([bytes]),
        }),
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
  };
}
