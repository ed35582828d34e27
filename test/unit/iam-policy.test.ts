// The policy evaluator against an independent implementation of IAM's evaluation
// (@cloud-copilot/iam-simulate), over seeded random policies and requests: actions and resources
// with wildcards, NotAction and NotResource, Allow and Deny, condition operators with IfExists,
// Null and the set qualifiers, keys present and absent. Any disagreement prints its seed.
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { describe, expect, it } from "vitest";
import { Policy, PolicyError } from "../../lib/auth/policy.ts";
import { rng } from "../helpers/rng.ts";

const ACCOUNT = "123456789012";
const OBJECT_ACTIONS = [
  "s3:GetObject",
  "s3:GetObjectVersion",
  "s3:PutObject",
  "s3:PutObjectTagging",
  "s3:PutObjectVersionTagging",
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:RestoreObject",
  "s3:PutObjectAcl",
  "s3:PutObjectRetention",
  "s3:PutObjectLegalHold",
];
const BUCKET_ACTIONS = ["s3:ListBucket"];
const ACTION_PATTERNS = [
  "s3:*",
  "*",
  "s3:Get*",
  "s3:Put*",
  "s3:PutObject",
  "s3:putobject*",
  "s3:*Tagging",
  "s3:*Version*",
  "s3:ListBucket",
  "s3:DeleteObjec?",
  "s3:Restore*",
  "lambda:InvokeFunction",
  "s3:GetObject",
];
const BUCKETS = ["pool", "pool2", "logs", "po"];
const KEYS = ["a", "a/b", "secret/x", "secret", "logs/2026/1.txt", "a:b", "x?y", "é/ü"];
const RESOURCE_PATTERNS = [
  "*",
  "arn:aws:s3:::pool/*",
  "arn:aws:s3:::pool",
  "arn:aws:s3:::pool*",
  "arn:aws:s3:::po?l/*",
  "arn:aws:s3:::*/secret/*",
  "arn:aws:s3:::pool/secret*",
  "arn:aws:s3:::*",
  "arn:aws:s3:::logs/*",
  "arn:aws:s3:::pool2/a/*",
  "arn:aws:s3:*:*:pool/*",
  "arn:*:s3:::pool/a*",
  "arn:aws:s3:::pool/a:*",
];
type Values = string | string[];
const CONDITIONS: [string, string, Values][] = [
  ["StringLike", "s3:prefix", ["logs/*", "a/*"]],
  ["StringEquals", "s3:prefix", ""],
  ["StringNotLike", "s3:prefix", "secret*"],
  ["StringNotEquals", "aws:PrincipalAccount", ACCOUNT],
  ["StringEquals", "aws:PrincipalAccount", ACCOUNT],
  ["StringEqualsIgnoreCase", "aws:PrincipalArn", `arn:aws:iam::${ACCOUNT}:ROLE/DEMO`],
  ["ArnLike", "aws:PrincipalArn", `arn:aws:iam::*:role/d*`],
  ["ArnNotLike", "aws:PrincipalArn", `arn:aws:iam::*:role/x*`],
  ["IpAddress", "aws:SourceIp", ["10.0.0.0/8", "192.168.1.7"]],
  ["NotIpAddress", "aws:SourceIp", "10.0.0.0/8"],
  ["IpAddress", "aws:SourceIp", "2001:db8::/32"],
  ["IpAddressIfExists", "aws:SourceIp", "127.0.0.0/8"],
  ["StringLikeIfExists", "s3:prefix", "a*"],
  ["Null", "aws:SourceIp", "true"],
  ["Null", "s3:prefix", "false"],
  ["DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"],
  ["DateGreaterThan", "aws:CurrentTime", "2026-12-01T00:00:00Z"],
  ["NumericLessThan", "aws:EpochTime", "1900000000"],
  ["NumericGreaterThanEquals", "s3:max-keys", "100"],
  ["Bool", "aws:SecureTransport", "true"],
  ["BoolIfExists", "aws:SecureTransport", "false"],
  ["ForAnyValue:StringEquals", "aws:TagKeys", ["team", "env"]],
  ["ForAllValues:StringLike", "aws:TagKeys", ["t*", "e*"]],
  ["ForAnyValue:StringNotEquals", "aws:TagKeys", "team"],
];

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const some = <T>(r: R, xs: readonly T[], max: number): T[] => {
  const n = 1 + Math.floor(r() * max);
  return [...new Set(Array.from({ length: n }, () => pick(r, xs)))];
};
const oneOrList = (r: R, xs: string[]) => (xs.length === 1 && r() < 0.5 ? xs[0] : xs);

function randomPolicy(r: R) {
  const statements = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => {
    const s: Record<string, unknown> = { Sid: `S${i}`, Effect: r() < 0.65 ? "Allow" : "Deny" };
    s[r() < 0.8 ? "Action" : "NotAction"] = oneOrList(r, some(r, ACTION_PATTERNS, 3));
    s[r() < 0.8 ? "Resource" : "NotResource"] = oneOrList(r, some(r, RESOURCE_PATTERNS, 3));
    if (r() < 0.6) {
      const cond: Record<string, Record<string, Values>> = {};
      for (const [op, key, values] of some(r, CONDITIONS, 2)) {
        cond[op] ??= {};
        (cond[op] as Record<string, Values>)[key] = values;
      }
      s.Condition = cond;
    }
    return s;
  });
  return { Version: "2012-10-17", Statement: statements };
}

function randomRequest(r: R) {
  const bucketLevel = r() < 0.25;
  const action = pick(r, bucketLevel ? BUCKET_ACTIONS : OBJECT_ACTIONS);
  const bucket = pick(r, BUCKETS);
  const resource = bucketLevel ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${pick(r, KEYS)}`;
  const context: Record<string, string | string[]> = {};
  const maybe = (key: string, value: string | string[]) => {
    if (r() < 0.6) context[key] = value;
  };
  maybe("aws:SourceIp", pick(r, ["10.1.2.3", "192.168.1.7", "127.0.0.1", "2001:db8::1", "8.8.8.8"]));
  maybe("aws:PrincipalAccount", pick(r, [ACCOUNT, "210987654321"]));
  maybe(
    "aws:PrincipalArn",
    pick(r, [`arn:aws:iam::${ACCOUNT}:role/demo`, `arn:aws:iam::${ACCOUNT}:role/x1`]),
  );
  maybe("aws:CurrentTime", pick(r, ["2026-12-06T12:00:00Z", "2031-01-01T00:00:00Z", "2020-01-01T00:00:00Z"]));
  maybe("aws:EpochTime", pick(r, ["1796000000", "1999999999"]));
  maybe("aws:SecureTransport", pick(r, ["true", "false"]));
  maybe("aws:TagKeys", pick(r, [["team"], ["team", "env"], ["x"], ["env", "x"]]));
  if (bucketLevel) {
    maybe("s3:prefix", pick(r, ["", "logs/2026/", "a/b", "secret/", "x"]));
    maybe("s3:max-keys", pick(r, ["10", "1000"]));
  }
  return { action, resource, context };
}

async function oracle(policy: unknown, req: ReturnType<typeof randomRequest>): Promise<string> {
  const out = await runSimulation(
    {
      identityPolicies: [{ name: "p", policy: policy as never }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: req.action,
        principal: `arn:aws:iam::${ACCOUNT}:role/demo`,
        resource: { accountId: ACCOUNT, resource: req.resource },
        contextVariables: req.context,
      },
    },
    {},
  );
  if (out.resultType === "error") throw new Error(`oracle refused the case: ${JSON.stringify(out.errors)}`);
  return out.overallResult;
}

const lowerKeys = (c: Record<string, string | string[]>) =>
  Object.fromEntries(Object.entries(c).map(([k, v]) => [k.toLowerCase(), v]));

describe("the IAM policy evaluator", () => {
  it("decides as iam-simulate does over 3,000 seeded random cases", async () => {
    const disagreements: string[] = [];
    const seen: Record<string, number> = { Allowed: 0, ExplicitlyDenied: 0, ImplicitlyDenied: 0 };
    for (let seed = 1; seed <= 600; seed++) {
      const r = rng(seed);
      const doc = randomPolicy(r);
      const policy = Policy.parse(doc);
      for (let i = 0; i < 5; i++) {
        const req = randomRequest(r);
        const want = await oracle(doc, req);
        const got = policy.evaluate(req.action, req.resource, lowerKeys(req.context));
        seen[got] = (seen[got] ?? 0) + 1;
        if (got !== want)
          disagreements.push(
            `seed ${seed} case ${i}: ${got} vs ${want}: ${JSON.stringify(req)} ${JSON.stringify(doc)}`,
          );
      }
    }
    expect(disagreements.slice(0, 5)).toEqual([]);
    // Both answers, and both kinds of refusal, were exercised.
    expect(Math.min(...Object.values(seen))).toBeGreaterThan(300);
  });

  it("refuses documents IAM refuses, naming the field", () => {
    const refuse = (doc: unknown) => {
      try {
        Policy.parse(doc, "roles.0.policy");
      } catch (err) {
        expect(err).toBeInstanceOf(PolicyError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refuse({ Statement: [] })).toMatch(/^roles\.0\.policy\.Version/);
    expect(refuse({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Resource: "*" }] })).toMatch(
      /exactly one of Action and NotAction/,
    );
    expect(
      refuse({ Version: "2012-10-17", Statement: [{ Effect: "Permit", Action: "s3:*", Resource: "*" }] }),
    ).toMatch(/Statement\.0\.Effect/);
    expect(
      refuse({
        Version: "2012-10-17",
        Statement: { Effect: "Allow", Action: "s3:*", Resource: "*", Principal: "*" },
      }),
    ).toMatch(/Statement/);
    expect(
      refuse({ Version: "2012-10-17", Statement: { Effect: "Allow", Action: "s3:*", Resource: "bucket" } }),
    ).toMatch(/Statement\.Resource|ARN/);
    expect(
      refuse({
        Version: "2012-10-17",
        Statement: { Effect: "Allow", Action: "s3:*", Resource: `arn:aws:s3:::${"$"}{aws:username}/*` },
      }),
    ).toMatch(/policy variables/);
    expect(
      refuse({
        Version: "2012-10-17",
        Statement: { Effect: "Allow", Action: "s3:*", Resource: "*", Condition: { StringSorta: { a: "b" } } },
      }),
    ).toMatch(/StringSorta is not a condition operator/);
    const big = {
      Version: "2012-10-17",
      Statement: { Effect: "Allow", Action: "s3:*", Resource: Array(400).fill("arn:aws:s3:::bucket-name/*") },
    };
    expect(refuse(big)).toMatch(/over 10240 bytes/);
  });
});
