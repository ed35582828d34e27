// serverless.yml packages offline (osls + serverless-esbuild) into the stack the design names.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { packaged } from "../helpers/lambda-harness.ts";

const root = join(import.meta.dirname, "../..");
const out = join(root, ".serverless");
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json> };
let resources: Record<string, Resource>;

beforeAll(() => {
  resources = packaged().Resources;
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

  it("configures every function from the deploy parameters, never with a secret of its own", () => {
    for (const [, f] of ofType("AWS::Lambda::Function")) {
      const vars = f.Properties.Environment.Variables;
      expect(Object.keys(vars)).toEqual(
        expect.arrayContaining([
          "S3BATCH_ENDPOINTS",
          "S3BATCH_API_KEYS",
          "S3BATCH_ROLES",
          "S3BATCH_INTERNAL_BUCKET",
          "S3BATCH_QUEUE_URL_CHILD",
        ]),
      );
      expect(vars.S3BATCH_API_KEYS).toBe("[]");
      expect(vars.S3BATCH_ROLES).toBe("[]");
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
