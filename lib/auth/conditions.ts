// IAM condition operators over a request's context, with IAM's rules: condition key names are
// case-insensitive; several operators, and several keys under one, must all hold; several values
// under one key match when any does, and a negated operator holds when none does; a key absent
// from the request fails a positive operator and satisfies a negated one, `...IfExists` holds on
// an absent key, `Null` tests presence; `ForAnyValue:` and `ForAllValues:` compare a many-valued
// key value by value (ForAllValues holds on an absent key, ForAnyValue does not).
import ipaddr from "ipaddr.js";
import { S3BatchError } from "../errors.ts";
import { arnMatcher, globMatcher } from "./glob.ts";

/** The request's condition keys, lower-cased, with one value or several. */
export type RequestContext = Readonly<Record<string, string | readonly string[] | undefined>>;

/** One compiled condition: the key it reads (lower case) and whether it holds. */
export type CompiledCondition = ((context: RequestContext) => boolean) & { key: string };

export class PolicyConditionError extends S3BatchError {}

type Match = (policyValue: string) => (value: string) => boolean;

const num = (s: string) => (/^\s*$/.test(s) ? Number.NaN : Number(s));
const date = (s: string) => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));
const compare =
  (parse: (s: string) => number, holds: (a: number, b: number) => boolean): Match =>
  (p) => {
    const want = parse(p);
    return (v) => {
      const got = parse(v);
      return !Number.isNaN(got) && !Number.isNaN(want) && holds(got, want);
    };
  };

function ipMatch(p: string): (value: string) => boolean {
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    range = p.includes("/")
      ? ipaddr.parseCIDR(p)
      : ((a) => [a, a.kind() === "ipv4" ? 32 : 128])(ipaddr.parse(p));
  } catch {
    return () => false;
  }
  return (v) => {
    try {
      const addr = ipaddr.process(v);
      return addr.kind() === range[0].kind() && addr.match(range as never);
    } catch {
      return false;
    }
  };
}

/** The positive form of each operator, and whether its name negates it. */
const OPERATORS: Record<string, { match: Match; negated: boolean }> = {
  StringEquals: { match: (p) => (v) => v === p, negated: false },
  StringNotEquals: { match: (p) => (v) => v === p, negated: true },
  StringEqualsIgnoreCase: { match: (p) => (v) => v.toLowerCase() === p.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { match: (p) => (v) => v.toLowerCase() === p.toLowerCase(), negated: true },
  StringLike: { match: (p) => globMatcher(p), negated: false },
  StringNotLike: { match: (p) => globMatcher(p), negated: true },
  NumericEquals: { match: compare(num, (a, b) => a === b), negated: false },
  NumericNotEquals: { match: compare(num, (a, b) => a === b), negated: true },
  NumericLessThan: { match: compare(num, (a, b) => a < b), negated: false },
  NumericLessThanEquals: { match: compare(num, (a, b) => a <= b), negated: false },
  NumericGreaterThan: { match: compare(num, (a, b) => a > b), negated: false },
  NumericGreaterThanEquals: { match: compare(num, (a, b) => a >= b), negated: false },
  DateEquals: { match: compare(date, (a, b) => a === b), negated: false },
  DateNotEquals: { match: compare(date, (a, b) => a === b), negated: true },
  DateLessThan: { match: compare(date, (a, b) => a < b), negated: false },
  DateLessThanEquals: { match: compare(date, (a, b) => a <= b), negated: false },
  DateGreaterThan: { match: compare(date, (a, b) => a > b), negated: false },
  DateGreaterThanEquals: { match: compare(date, (a, b) => a >= b), negated: false },
  Bool: { match: (p) => (v) => v.toLowerCase() === p.toLowerCase(), negated: false },
  BinaryEquals: { match: (p) => (v) => v === p, negated: false },
  IpAddress: { match: ipMatch, negated: false },
  NotIpAddress: { match: ipMatch, negated: true },
  ArnEquals: { match: arnMatcher, negated: false },
  ArnLike: { match: arnMatcher, negated: false },
  ArnNotEquals: { match: arnMatcher, negated: true },
  ArnNotLike: { match: arnMatcher, negated: true },
};

function compileOne(name: string, key: string, values: string[], where: string): CompiledCondition {
  const lower = key.toLowerCase();
  const set = /^(ForAnyValue|ForAllValues):/.exec(name)?.[1];
  const base = set ? name.slice(set.length + 1) : name;
  if (base === "Null") {
    if (set) throw new PolicyConditionError(`${where}: Null takes no ForAnyValue or ForAllValues`);
    const wantAbsent = values.map((v) => v.toLowerCase() === "true");
    const held = (c: RequestContext) => {
      const v = c[lower];
      const absent = v === undefined || (Array.isArray(v) && v.length === 0);
      return wantAbsent.some((w) => w === absent);
    };
    return Object.assign(held, { key: lower });
  }
  const ifExists = base.endsWith("IfExists");
  const opName = ifExists ? base.slice(0, -"IfExists".length) : base;
  const op = OPERATORS[opName];
  if (!op) throw new PolicyConditionError(`${where}: ${name} is not a condition operator`);
  const matchers = values.map((p) => op.match(p));
  // One value of the request against the policy's values.
  const one = op.negated
    ? (v: string) => !matchers.some((m) => m(v))
    : (v: string) => matchers.some((m) => m(v));
  const held = (c: RequestContext): boolean => {
    const raw = c[lower];
    const all = raw === undefined ? [] : typeof raw === "string" ? [raw] : raw;
    if (all.length === 0) {
      if (ifExists) return true;
      if (set === "ForAllValues") return true;
      if (set === "ForAnyValue") return false;
      return op.negated;
    }
    if (set === "ForAllValues") return all.every(one);
    if (set === "ForAnyValue") return all.some(one);
    return op.negated ? all.every(one) : all.some(one);
  };
  return Object.assign(held, { key: lower });
}

/** Compiles a statement's Condition block; PolicyConditionError names an unknown operator. */
export function compileConditions(
  block: Record<string, Record<string, string[]>>,
  where: string,
): CompiledCondition[] {
  return Object.entries(block).flatMap(([name, keys]) =>
    Object.entries(keys).map(([key, values]) => compileOne(name, key, values, `${where}.${name}`)),
  );
}
