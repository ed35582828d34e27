// IAM identity policies: the document IAM takes (Version, Statement with Sid, Effect,
// Action/NotAction, Resource/NotResource, Condition), validated with errors that name fields, and
// compiled once into matchers so that a decision costs a few regular-expression tests. Evaluated
// as IAM evaluates an identity policy: an explicit Deny wins, then an Allow, and no Allow is a deny.
// Policy variables (`${aws:username}`) and Principal elements (resource policies) are refused at
// load. Conditions: lib/auth/conditions.ts.
import { z } from "zod";
import { S3BatchError } from "../errors.ts";
import {
  type CompiledCondition,
  compileConditions,
  PolicyConditionError,
  type RequestContext,
} from "./conditions.ts";
import { arnMatcher, arnParts, globMatcher } from "./glob.ts";

/** A policy document at most this long (IAM's limit for a role's inline policies). */
export const MAX_POLICY_BYTES = 10_240;
export const MAX_STATEMENTS = 100;
const MAX_VALUES = 1_000;

const oneOrMany = (item: z.ZodType<string>) =>
  z.preprocess((v) => (typeof v === "string" ? [v] : v), z.array(item).min(1).max(MAX_VALUES));

const ACTION = z
  .string()
  .regex(/^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/, "an action is service:Name, with * and ? as wildcards");
const RESOURCE = z
  .string()
  .min(1)
  .max(2048)
  .refine((r) => r === "*" || (r.startsWith("arn:") && r.split(":").length >= 6), {
    message: "a resource is * or an ARN (arn:partition:service:region:account:resource)",
  });
const CONDITION_VALUE = z.union([z.string().max(2048), z.number(), z.boolean()]).transform(String);
const CONDITION = z.record(
  z.string().min(1).max(128),
  z.record(
    z.string().min(1).max(256),
    z.union([CONDITION_VALUE, z.array(CONDITION_VALUE).max(MAX_VALUES)]).transform((v) => [v].flat()),
  ),
);

const statementSchema = z
  .object({
    Sid: z
      .string()
      .regex(/^[A-Za-z0-9]*$/, "a Sid has letters and digits only")
      .max(128)
      .optional(),
    Effect: z.enum(["Allow", "Deny"]),
    Action: oneOrMany(ACTION).optional(),
    NotAction: oneOrMany(ACTION).optional(),
    Resource: oneOrMany(RESOURCE).optional(),
    NotResource: oneOrMany(RESOURCE).optional(),
    Condition: CONDITION.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.Action === undefined) === (s.NotAction === undefined))
      ctx.addIssue({ code: "custom", message: "a statement has exactly one of Action and NotAction" });
    if ((s.Resource === undefined) === (s.NotResource === undefined))
      ctx.addIssue({ code: "custom", message: "a statement has exactly one of Resource and NotResource" });
  });

export const policySchema = z
  .object({
    Version: z.enum(["2012-10-17", "2008-10-17"]),
    Id: z.string().max(128).optional(),
    Statement: z.preprocess(
      (s) => (Array.isArray(s) || s === undefined ? s : [s]),
      z.array(statementSchema).min(1).max(MAX_STATEMENTS),
    ),
  })
  .strict();

export type PolicyDocument = z.input<typeof policySchema>;
type Statement = z.output<typeof statementSchema>;

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

interface CompiledStatement {
  sid: string;
  effect: "Allow" | "Deny";
  action: (action: string) => boolean;
  /** `parts`: the resource's ARN parts, split once per decision (undefined: not an ARN). */
  resource: (resource: string, parts: string[] | undefined) => boolean;
  conditions: CompiledCondition[];
}

/** A policy document IAM would refuse, or s3batch does not evaluate; the message names the field. */
export class PolicyError extends S3BatchError {}

/** One compiled identity policy. */
export class Policy {
  /** The statements whose Action (or NotAction) takes in an action: a job asks about a few actions. */
  private readonly byAction = new Map<string, CompiledStatement[]>();

  private constructor(private readonly statements: CompiledStatement[]) {}

  /**
   * Validates and compiles a policy document (an object, or its JSON text). PolicyError names
   * the field at fault, never a value.
   */
  static parse(doc: unknown, where = "policy"): Policy {
    let raw = doc;
    if (typeof doc === "string") {
      if (new TextEncoder().encode(doc).length > MAX_POLICY_BYTES)
        throw new PolicyError(`${where} is over ${MAX_POLICY_BYTES} bytes`);
      try {
        raw = JSON.parse(doc);
      } catch {
        throw new PolicyError(`${where} is not JSON`);
      }
    } else if (new TextEncoder().encode(JSON.stringify(doc) ?? "").length > MAX_POLICY_BYTES) {
      throw new PolicyError(`${where} is over ${MAX_POLICY_BYTES} bytes`);
    }
    if (JSON.stringify(raw ?? null).includes("${"))
      throw new PolicyError(`${where}: policy variables (\${...}) are not supported`);
    const parsed = policySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = [where, ...(issue?.path ?? [])].join(".");
      throw new PolicyError(`${path}: ${issue?.message ?? "invalid"}`);
    }
    try {
      return new Policy(
        parsed.data.Statement.map((s, i) => compileStatement(s, `${where}.Statement.${i}`, i)),
      );
    } catch (err) {
      if (err instanceof PolicyConditionError) throw new PolicyError(err.message);
      throw err;
    }
  }

  /** IAM's answer for one request. */
  evaluate(action: string, resource: string, context: RequestContext = {}): Decision {
    return this.decide(action, resource, context).decision;
  }

  /** The answer and the statement that decided it (the Sid, or its position). */
  decide(
    action: string,
    resource: string,
    context: RequestContext = {},
  ): { decision: Decision; by?: string } {
    let statements = this.byAction.get(action);
    if (!statements) {
      statements = this.statements.filter((s) => s.action(action));
      if (this.byAction.size < 1000) this.byAction.set(action, statements);
    }
    const parts = arnParts(resource);
    let allowedBy: string | undefined;
    for (const s of statements) {
      if (s.effect === "Allow" && allowedBy !== undefined) continue;
      if (!s.resource(resource, parts)) continue;
      if (!s.conditions.every((c) => c(context))) continue;
      if (s.effect === "Deny") return { decision: "ExplicitlyDenied", by: s.sid };
      allowedBy = s.sid;
    }
    return allowedBy !== undefined
      ? { decision: "Allowed", by: allowedBy }
      : { decision: "ImplicitlyDenied" };
  }

  /** The condition keys the policy names (lower case): keys s3batch never sets are worth a warning. */
  get conditionKeys(): string[] {
    return [...new Set(this.statements.flatMap((s) => s.conditions.map((c) => c.key)))];
  }
}

function compileStatement(s: Statement, where: string, index: number): CompiledStatement {
  const actionMatchers = (s.Action ?? s.NotAction ?? []).map((p) => globMatcher(p, true));
  const actions = (a: string) => actionMatchers.some((m) => m(a));
  const resourceMatchers = (s.Resource ?? s.NotResource ?? []).map(arnMatcher);
  const resources = (r: string, parts: string[] | undefined) => {
    for (const m of resourceMatchers) if (m(r, parts)) return true;
    return false;
  };
  return {
    sid: s.Sid || `#${index + 1}`,
    effect: s.Effect,
    action: s.Action ? actions : (a) => !actions(a),
    resource: s.Resource ? resources : (r, parts) => !resources(r, parts),
    conditions: compileConditions(s.Condition ?? {}, `${where}.Condition`),
  };
}
