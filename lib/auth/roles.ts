// The roles a deployment knows, from S3BATCH_ROLES or the file S3BATCH_ROLES_FILE names: a JSON or
// YAML list (or `{roles: [...]}`), each role an ARN, an IAM policy document exactly as IAM takes
// it, and optionally the gateways it may act on at all. No secret is ever part of a role.
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { S3BatchError } from "../errors.ts";
import { Policy, PolicyError } from "./policy.ts";

export const MAX_ROLES = 1_000;
export const MAX_ROLES_BYTES = 4 * 1024 * 1024;
/** arn:aws:iam::<account>:role/<path/><name>, as IAM spells a role. */
export const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/([\w+=,.@/-]{1,512})$/;

export class RolesConfigError extends S3BatchError {}

export interface Role {
  arn: string;
  accountId: string;
  policy: Policy;
  /** The gateways (endpoint ids) the role may act on; undefined: every one. */
  endpoints?: string[];
}

const roleSchema = z
  .object({
    arn: z.string().max(2048).regex(ROLE_ARN, "must be arn:aws:iam::<12-digit account>:role/<name>"),
    description: z.string().max(1000).optional(),
    policy: z.union([z.record(z.string(), z.unknown()), z.string().max(64 * 1024)]),
    endpoints: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/))
      .min(1)
      .max(64)
      .optional(),
  })
  .strict();

const documentSchema = z.preprocess(
  (d) =>
    d && typeof d === "object" && !Array.isArray(d) && "roles" in d ? (d as { roles: unknown }).roles : d,
  z.array(roleSchema).max(MAX_ROLES),
);

/**
 * Parses the roles document; errors name the field (`roles.3.policy.Statement.0.Effect`), never a
 * value. `endpointIds` are the configured gateways a role's `endpoints` may name.
 */
export function parseRoles(text: string | undefined, endpointIds: readonly string[]): Role[] {
  if (!text?.trim()) return [];
  if (new TextEncoder().encode(text).length > MAX_ROLES_BYTES)
    throw new RolesConfigError(`the roles document is over ${MAX_ROLES_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    throw new RolesConfigError("the roles document is neither JSON nor YAML");
  }
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RolesConfigError(`roles.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  const seen = new Set<string>();
  return parsed.data.map((r, i) => {
    if (seen.has(r.arn)) throw new RolesConfigError(`roles.${i}.arn: ${r.arn} is configured twice`);
    seen.add(r.arn);
    const unknown = r.endpoints?.find((e) => !endpointIds.includes(e));
    if (unknown) throw new RolesConfigError(`roles.${i}.endpoints: ${unknown} is not a configured endpoint`);
    let policy: Policy;
    try {
      policy = Policy.parse(r.policy, `roles.${i}.policy`);
    } catch (err) {
      if (err instanceof PolicyError) throw new RolesConfigError(err.message);
      throw err;
    }
    return {
      arn: r.arn,
      accountId: (ROLE_ARN.exec(r.arn) as RegExpExecArray)[1] as string,
      policy,
      ...(r.endpoints ? { endpoints: r.endpoints } : {}),
    };
  });
}
