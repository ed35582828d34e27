// API access keys: each maps to one account ID. A JSON or YAML list, secrets inline or named by
// environment variable. No keys configured means every request is refused.

import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.ts";

/** An API access key: the account it acts for and the roles it may pass. */
export interface ApiKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  /** The role ARNs (with wildcards) the key may pass; undefined: any role of its account. */
  roles?: readonly string[];
}

/** The roles a key may pass: role ARNs, with IAM's wildcards (`arn:aws:iam::123456789012:role/team-a-*`). */
const rolesSchema = z
  .array(z.string().regex(/^arn:aws:iam::(\d{12}|\*):role\/[\w+=,.@/*?-]{1,512}$/, "must be a role ARN"))
  .max(100)
  .optional();

const keySchema = z.union([
  z.object({
    accessKeyId: z.string().min(1).max(128),
    secretAccessKey: z.string().min(1).max(256),
    accountId: z.string().regex(/^\d{12}$/),
    roles: rolesSchema,
  }),
  z.object({
    accessKeyId: z.string().min(1).max(128),
    secretAccessKeyEnv: z.string().min(1).max(256),
    accountId: z.string().regex(/^\d{12}$/),
    roles: rolesSchema,
  }),
]);

/** Parses S3BATCH_API_KEYS; errors name fields, never values. */
export function parseApiKeys(text: string | undefined, env: Record<string, string | undefined>): ApiKey[] {
  if (!text) return [];
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    throw new ConfigError("S3BATCH_API_KEYS is neither JSON nor YAML");
  }
  const parsed = z.array(keySchema).max(10_000).safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid S3BATCH_API_KEYS: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data.map((k) => {
    if ("secretAccessKey" in k) return k;
    const secret = env[k.secretAccessKeyEnv];
    if (!secret) throw new ConfigError(`invalid S3BATCH_API_KEYS: ${k.secretAccessKeyEnv} is not set`);
    return {
      accessKeyId: k.accessKeyId,
      secretAccessKey: secret,
      accountId: k.accountId,
      ...(k.roles ? { roles: k.roles } : {}),
    };
  });
}
