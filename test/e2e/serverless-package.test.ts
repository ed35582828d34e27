// serverless.yml packages offline (osls + serverless-esbuild) into the stack the design names.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const out = join(root, ".serverless");
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json> };
let resources: Record<string, Resource>;

beforeAll(() => {
  rmSync(out, { recursive: true, force: true });
  execFileSync("npx", ["osls", "package", "--stage", "ci"], {
    cwd: root,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" },
    stdio: "pipe",
  });
  const template = JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"));
  resources = template.Resources;
}, 180_000);

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe("serverless package", () => {
  it("bundles the five functions, each in its own artifact", () => {
    const functions = ofType("AWS::Lambda::Function").map(([, r]) => r.Properties);
    expect(functions).toHaveLength(5);
    for (const f of functions) {
      expect(f.Runtime).toBe("nodejs22.x");
      expect(f.Handler).toMatch(/^functions\/(api|dispatch|child|poll|merge)\.handler$/);
    }
    for (const name of ["api", "dispatch", "child", "poll", "merge"])
      expect(existsSync(join(out, `${name}.zip`))).toBe(true);
  });

  it("produces bundles that load and answer as Lambda handlers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "s3batch-bundle-"));
    execFileSync("python3", ["-m", "zipfile", "-e", join(out, "child.zip"), dir]);
    const bundle = await import(pathToFileURL(join(dir, "functions/child.mjs")).href);
    Object.assign(process.env, {
      S3BATCH_ENDPOINTS: '[{"id":"a","url":"http://127.0.0.1:1"}]',
      S3BATCH_QUEUE_URL_DISPATCH: "http://127.0.0.1:1/q/d",
      S3BATCH_QUEUE_URL_CHILD: "http://127.0.0.1:1/q/c",
      S3BATCH_QUEUE_URL_POLL: "http://127.0.0.1:1/q/p",
      S3BATCH_QUEUE_URL_MERGE: "http://127.0.0.1:1/q/m",
      S3BATCH_LOG_LEVEL: "error",
    });
    // A message of an unknown schema version is refused, so SQS keeps it for its DLQ.
    const res = await bundle.handler({ Records: [{ messageId: "m1", body: '{"v":9,"type":"child"}' }] });
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
    rmSync(dir, { recursive: true, force: true });
  });

  it("configures every function from the deploy parameters, never with a secret of its own", () => {
    for (const [, f] of ofType("AWS::Lambda::Function")) {
      const vars = f.Properties.Environment.Variables;
      expect(Object.keys(vars)).toEqual(
        expect.arrayContaining([
          "S3BATCH_ENDPOINTS",
          "S3BATCH_API_KEYS",
          "S3BATCH_INTERNAL_BUCKET",
          "S3BATCH_QUEUE_URL_CHILD",
        ]),
      );
      expect(vars.S3BATCH_API_KEYS).toBe("[]");
    }
  });

  it("serves api over an HTTP API", () => {
    expect(ofType("AWS::ApiGatewayV2::Api")).toHaveLength(1);
    const integrations = ofType("AWS::ApiGatewayV2::Integration");
    expect(integrations).toHaveLength(1);
    expect(JSON.stringify(integrations[0]?.[1].Properties.IntegrationUri)).toContain("ApiLambdaFunction");
  });

  it("feeds dispatch, child, poll and merge from queues with DLQs and partial batch failures", () => {
    const mappings = ofType("AWS::Lambda::EventSourceMapping").map(([, r]) => r.Properties);
    // Four queues, and the four DLQs, which the poll function (the reconciler) consumes.
    expect(mappings).toHaveLength(8);
    for (const m of mappings) expect(m.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    const targets = mappings.map((m) => JSON.stringify(m.EventSourceArn)).sort();
    expect(targets.join()).toMatch(
      /ChildDLQ.*ChildQueue.*DispatchDLQ.*DispatchQueue.*MergeDLQ.*MergeQueue.*PollDLQ.*PollQueue/,
    );
    const poll = ofType("AWS::Lambda::EventSourceMapping")
      .filter(([, r]) => /DLQ/.test(JSON.stringify(r.Properties.EventSourceArn)))
      .map(([, r]) => JSON.stringify(r.Properties.FunctionName));
    for (const f of poll) expect(f).toContain("PollLambdaFunction");
    for (const name of ["Dispatch", "Child", "Poll", "Merge"]) {
      const queue = resources[`${name}Queue`];
      expect(queue?.Properties.RedrivePolicy.deadLetterTargetArn).toEqual({
        "Fn::GetAtt": [`${name}DLQ`, "Arn"],
      });
      expect(resources[`${name}DLQ`]?.Type).toBe("AWS::SQS::Queue");
    }
  });

  it("creates the internal bucket with a rule that aborts incomplete multipart uploads", () => {
    const rules = resources.InternalBucket?.Properties.LifecycleConfiguration.Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    );
  });

  it("grants only the internal bucket and the pipeline queues, never a wildcard resource", () => {
    const role = ofType("AWS::IAM::Role")[0]?.[1];
    const statements = role?.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
    const granted = statements.flatMap((s: Json) => [s.Action].flat());
    expect(granted).toEqual(expect.arrayContaining(["s3:GetObject", "s3:PutObject", "sqs:SendMessage"]));
    expect(granted).not.toContain("s3:*");
    for (const s of statements) expect([s.Resource].flat()).not.toContain("*");
  });
});
