// Gateway endpoint configuration: one JSON or YAML document, from a file or an environment
// variable. Credentials may be given inline or named by environment variable; either way they
// stay inside the Endpoint object and are never serialised (see redactEndpoint).

import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.ts";

const credentialsSchema = z.union([
  z.object({
    accessKeyId: z.string().min(1).max(256),
    secretAccessKey: z.string().min(1).max(256),
    sessionToken: z.string().max(4096).optional(),
  }),
  z.object({
    accessKeyIdEnv: z.string().min(1).max(256),
    secretAccessKeyEnv: z.string().min(1).max(256),
    sessionTokenEnv: z.string().max(256).optional(),
  }),
]);

const endpointSchema = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "endpoint id: lower-case letters, digits and dashes, at most 63"),
  url: z.url({ protocol: /^https?$/ }),
  region: z.string().min(1).max(64).default("us-east-1"),
  credentials: credentialsSchema.optional(),
  forcePathStyle: z.boolean().default(true),
  maxConcurrency: z.number().int().min(1).max(1024).default(128),
  /** A bucket whose scratch prefix `.s3batch-probe/` the capability probe may use. */
  probeBucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "probeBucket: a bucket name")
    .optional(),
});

const documentSchema = z.union([
  z.array(endpointSchema).min(1).max(64),
  z.object({ endpoints: z.array(endpointSchema).min(1).max(64) }).transform((d) => d.endpoints),
]);

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface Endpoint {
  id: string;
  url: string;
  region: string;
  forcePathStyle: boolean;
  maxConcurrency: number;
  /** Where the capability probe writes its scratch objects (endpoints/capabilities.ts). */
  probeBucket?: string;
  /** Absent: the SDK's default credential chain. */
  credentials?: Credentials;
}

/**
 * Parses an endpoint document (JSON or YAML, a list or `{endpoints: [...]}`), resolving
 * credentials named by environment variable against `env`.
 */
export function parseEndpoints(text: string, env: Record<string, string | undefined>): Endpoint[] {
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON
  } catch {
    throw new ConfigError("endpoint configuration is neither JSON nor YAML");
  }
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) {
    // zod's issues name paths and rules, never the values, so no secret is echoed here.
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid endpoint configuration: ${issues.join("; ")}`);
  }
  const seen = new Set<string>();
  return parsed.data.map((e) => {
    if (seen.has(e.id)) throw new ConfigError(`invalid endpoint configuration: duplicate id ${e.id}`);
    seen.add(e.id);
    const { credentials, ...rest } = e;
    if (!credentials) return rest;
    if ("accessKeyId" in credentials) return { ...rest, credentials };
    const accessKeyId = env[credentials.accessKeyIdEnv];
    const secretAccessKey = env[credentials.secretAccessKeyEnv];
    if (!accessKeyId || !secretAccessKey) {
      throw new ConfigError(
        `invalid endpoint configuration: ${e.id} names credential variables that are not set (${credentials.accessKeyIdEnv}, ${credentials.secretAccessKeyEnv})`,
      );
    }
    const sessionToken = credentials.sessionTokenEnv ? env[credentials.sessionTokenEnv] : undefined;
    return {
      ...rest,
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
    };
  });
}

/** What may be shown of an endpoint in logs, job records and errors. */
export function redactEndpoint(e: Endpoint): { id: string; url: string; region: string } {
  return { id: e.id, url: e.url, region: e.region };
}
