// `s3batch create`: a CreateJob request from flags. The manifest is an object on a gateway
// (its ETag looked up for you), a local file (uploaded for you), a ManifestGenerator over a
// bucket and prefix, or a whole request from --cli-input-json; the operation is one flag.
import { randomUUID } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { CreateJobCommandInput, JobOperation } from "@aws-sdk/client-s3-control";
import type { Api } from "./client.ts";
import { UsageError } from "./exit.ts";

export interface CreateFlags {
  manifest?: string;
  manifestFile?: string;
  manifestBucket?: string;
  manifestKey?: string;
  fields?: string;
  generate?: string;
  createdAfter?: string;
  createdBefore?: string;
  minSize?: string;
  maxSize?: string;
  storageClass?: string[];
  cliInputJson?: string;
  tag?: string[];
  untag?: boolean;
  restoreDays?: string;
  tier?: string;
  copyTo?: string;
  acl?: string;
  legalHold?: string;
  retention?: string;
  bypassGovernance?: boolean;
  checksum?: string;
  lambda?: string;
  replicate?: boolean;
  encrypt?: string;
  delete?: boolean;
  notify?: string;
  verify?: boolean;
  report?: string;
  reportScope?: string;
  priority?: string;
  confirm?: boolean;
  description?: string;
  roleArn?: string;
}

/** Marks the stand-in operation of a delete job. */
export const DELETE = Symbol("S3DeleteObject");

export const isDelete = (op: JobOperation | undefined) =>
  Boolean(op && (op as Record<symbol, unknown>)[DELETE]);

/** The largest manifest file the API takes through its upload route. */
const MAX_MANIFEST_FILE = 32 * 1024 * 1024;

/** `s3://bucket/rest` → bucket and rest. */
export function parseS3Url(url: string, what: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new UsageError(`${what} must be s3://bucket[/key], not ${url.slice(0, 100)}`);
  return { bucket: m[1] ?? "", key: m[2] ?? "" };
}

function int(value: string, what: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(`${what} must be an integer from ${min} to ${max}`);
  return Number(value);
}

function date(value: string, what: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${what} must be a date, such as 2027-01-31`);
  return d;
}

function tagSet(pairs: string[]): { Key: string; Value: string }[] {
  return pairs.map((p) => {
    const at = p.indexOf("=");
    if (at < 1) throw new UsageError(`--tag takes key=value, not ${p.slice(0, 100)}`);
    return { Key: p.slice(0, at), Value: p.slice(at + 1) };
  });
}

/** The one operation the flags name. */
export function operationOf(f: CreateFlags): JobOperation | undefined {
  const ops: JobOperation[] = [];
  if (f.tag?.length) ops.push({ S3PutObjectTagging: { TagSet: tagSet(f.tag) } });
  if (f.untag) ops.push({ S3DeleteObjectTagging: {} });
  if (f.restoreDays !== undefined)
    ops.push({
      S3InitiateRestoreObject: {
        ExpirationInDays: int(f.restoreDays, "--restore-days", 1, 36500),
        GlacierJobTier: (f.tier?.toUpperCase() ?? "BULK") as "BULK" | "STANDARD",
      },
    });
  if (f.copyTo) {
    const { bucket, key } = parseS3Url(f.copyTo, "--copy-to");
    ops.push({
      S3PutObjectCopy: { TargetResource: `arn:aws:s3:::${bucket}`, ...(key ? { TargetKeyPrefix: key } : {}) },
    });
  }
  if (f.acl)
    ops.push({
      S3PutObjectAcl: {
        AccessControlPolicy: { CannedAccessControlList: f.acl as "private" },
      },
    });
  if (f.legalHold) {
    const status = f.legalHold.toUpperCase();
    if (status !== "ON" && status !== "OFF") throw new UsageError("--legal-hold takes ON or OFF");
    ops.push({ S3PutObjectLegalHold: { LegalHold: { Status: status } } });
  }
  if (f.retention) {
    const [mode, until] = splitOnce(f.retention);
    const m = mode.toUpperCase();
    if (m !== "GOVERNANCE" && m !== "COMPLIANCE")
      throw new UsageError("--retention takes MODE:DATE, such as GOVERNANCE:2027-01-31");
    ops.push({
      S3PutObjectRetention: {
        Retention: { Mode: m, RetainUntilDate: date(until, "--retention's date") },
        ...(f.bypassGovernance ? { BypassGovernanceRetention: true } : {}),
      },
    });
  }
  if (f.checksum)
    ops.push({
      S3ComputeObjectChecksum: {
        ChecksumAlgorithm: f.checksum.toUpperCase() as "CRC32",
        ChecksumType: "FULL_OBJECT",
      },
    } as JobOperation);
  if (f.lambda) ops.push({ LambdaInvoke: { FunctionArn: f.lambda } });
  if (f.replicate) ops.push({ S3ReplicateObject: {} });
  if (f.encrypt)
    ops.push({
      S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: f.encrypt } } },
    } as JobOperation);
  // S3DeleteObject is s3batch's own: the SDK cannot send it, so it travels as a stand-in that
  // cli/main.ts swaps for the element on the wire (deleteOnTheWire).
  if (f.delete) ops.push({ S3DeleteObjectTagging: {}, [DELETE]: true } as JobOperation);
  if (ops.length > 1)
    throw new UsageError("name one operation: --tag, --untag, --restore-days, --copy-to, …");
  return ops[0];
}

function splitOnce(s: string): [string, string] {
  const at = s.indexOf(":");
  return at < 0 ? ["", ""] : [s.slice(0, at), s.slice(at + 1)];
}

/** The manifest part of the request: a Manifest or a ManifestGenerator. */
async function manifestOf(
  api: Api,
  f: CreateFlags,
  role: string,
): Promise<Pick<CreateJobCommandInput, "Manifest" | "ManifestGenerator">> {
  const given = [f.manifest, f.manifestFile, f.generate].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new UsageError("give one of --manifest, --manifest-file, --generate or --cli-input-json");
  const fields = (f.fields ?? "Bucket,Key").split(",");
  if (!fields.every((x) => x === "Bucket" || x === "Key" || x === "VersionId") || !fields.includes("Key"))
    throw new UsageError("--fields lists Bucket, Key and VersionId, such as Bucket,Key,VersionId");
  const csv = (bucket: string, key: string, etag: string): Pick<CreateJobCommandInput, "Manifest"> => {
    const inventory = key.endsWith("manifest.json");
    return {
      Manifest: {
        Spec: inventory
          ? { Format: "S3InventoryReport_CSV_20161130" }
          : { Format: "S3BatchOperations_CSV_20180820", Fields: fields as ("Bucket" | "Key")[] },
        Location: { ObjectArn: `arn:aws:s3:::${bucket}/${key}`, ETag: etag },
      },
    };
  };
  if (f.manifest) {
    const { bucket, key } = parseS3Url(f.manifest, "--manifest");
    if (!key) throw new UsageError("--manifest names an object: s3://bucket/key");
    const found = await api.json<{ etag: string }>("v20180820/s3batch/object", { bucket, key, role });
    return csv(bucket, key, found.etag);
  }
  if (f.manifestFile) {
    if (!f.manifestBucket)
      throw new UsageError("--manifest-file needs --manifest-bucket, the bucket to upload it to");
    const size = (await stat(f.manifestFile).catch(() => undefined))?.size;
    if (size === undefined) throw new UsageError(`cannot read ${f.manifestFile}`);
    if (size > MAX_MANIFEST_FILE)
      throw new UsageError(
        `${f.manifestFile} is over ${MAX_MANIFEST_FILE} bytes: upload it and use --manifest`,
      );
    const key = f.manifestKey ?? `s3batch-manifests/${Date.now()}-${basename(f.manifestFile)}`;
    const body = new Uint8Array(await readFile(f.manifestFile));
    const res = await api.request(
      "PUT",
      "v20180820/s3batch/object",
      { bucket: f.manifestBucket, key, role },
      body,
    );
    const put = (await res.json()) as { etag: string };
    return csv(f.manifestBucket, key, put.etag);
  }
  const { bucket, key: prefix } = parseS3Url(f.generate ?? "", "--generate");
  const filter: Record<string, unknown> = {};
  if (prefix) filter.KeyNameConstraint = { MatchAnyPrefix: [prefix] };
  if (f.createdAfter) filter.CreatedAfter = date(f.createdAfter, "--created-after");
  if (f.createdBefore) filter.CreatedBefore = date(f.createdBefore, "--created-before");
  if (f.minSize) filter.ObjectSizeGreaterThanBytes = int(f.minSize, "--min-size", 0, Number.MAX_SAFE_INTEGER);
  if (f.maxSize) filter.ObjectSizeLessThanBytes = int(f.maxSize, "--max-size", 0, Number.MAX_SAFE_INTEGER);
  if (f.storageClass?.length) filter.MatchAnyStorageClass = f.storageClass;
  return {
    ManifestGenerator: {
      S3JobManifestGenerator: {
        SourceBucket: `arn:aws:s3:::${bucket}`,
        EnableManifestOutput: false,
        ...(Object.keys(filter).length ? { Filter: filter } : {}),
      },
    },
  };
}

function reportOf(f: CreateFlags): CreateJobCommandInput["Report"] {
  const scope = f.reportScope ?? "all";
  if (scope !== "all" && scope !== "failed") throw new UsageError("--report-scope is all or failed");
  if (!f.report) return { Enabled: false };
  const { bucket, key } = parseS3Url(f.report, "--report");
  return {
    Enabled: true,
    Bucket: `arn:aws:s3:::${bucket}`,
    Format: "Report_CSV_20180820",
    ReportScope: scope === "all" ? "AllTasks" : "FailedTasksOnly",
    ...(key ? { Prefix: key.replace(/\/+$/, "") } : {}),
  };
}

/**
 * The role a job acts as when none is named: S3BATCH_ROLE_ARN, else the only role the key may
 * pass (the API lists them); with several, the user must choose.
 */
export async function defaultRole(api: Api): Promise<string> {
  const named = process.env.S3BATCH_ROLE_ARN;
  if (named) return named;
  const { roles } = await api.json<{ roles: string[] }>("v20180820/s3batch/roles");
  if (roles.length === 1) return roles[0] as string;
  if (roles.length === 0)
    throw new UsageError("this key may pass no role of this deployment: ask its operator for one");
  throw new UsageError(`name the job's role with --role-arn: this key may pass ${roles.join(", ")}`);
}

/** The CreateJob request the flags describe. */
export async function createJobRequest(api: Api, f: CreateFlags): Promise<CreateJobCommandInput> {
  const operation = operationOf(f);
  let base: Partial<CreateJobCommandInput> = {};
  if (f.cliInputJson) {
    const text = await readFile(f.cliInputJson, "utf8").catch(() => {
      throw new UsageError(`cannot read ${f.cliInputJson}`);
    });
    try {
      base = JSON.parse(text) as Partial<CreateJobCommandInput>;
    } catch (err) {
      throw new UsageError(`${f.cliInputJson} is not JSON: ${(err as Error).message}`);
    }
    if (typeof base !== "object" || base === null || Array.isArray(base))
      throw new UsageError(`${f.cliInputJson} must hold a CreateJob request object`);
  }
  const role = f.roleArn ?? base.RoleArn ?? (await defaultRole(api));
  const hasManifest = f.manifest !== undefined || f.manifestFile !== undefined || f.generate !== undefined;
  const manifest =
    hasManifest || (!base.Manifest && !base.ManifestGenerator) ? await manifestOf(api, f, role) : {};
  const op = operation ?? base.Operation;
  if (!op)
    throw new UsageError("name the operation: --tag k=v, --untag, --restore-days N, --copy-to s3://…, …");
  const request: CreateJobCommandInput = {
    ...base,
    ...manifest,
    AccountId: api.accountId,
    Operation: op,
    Report: f.report || !base.Report ? reportOf(f) : base.Report,
    Priority: f.priority !== undefined ? int(f.priority, "--priority", 0, 2147483647) : (base.Priority ?? 10),
    RoleArn: role,
    ClientRequestToken: base.ClientRequestToken ?? randomUUID(),
    // A delete job is always created to wait for confirmation.
    ConfirmationRequired: f.confirm || f.delete ? true : (base.ConfirmationRequired ?? false),
    ...(f.description ? { Description: f.description } : {}),
  };
  // s3batch's own job tags: where notifications go, whether effects are read back.
  const own = [
    ...(f.notify ? [{ Key: "s3batch:notify", Value: f.notify }] : []),
    ...(f.verify ? [{ Key: "s3batch:verify", Value: "true" }] : []),
  ];
  if (own.length > 0)
    request.Tags = [...(base.Tags ?? []).filter((t) => !own.some((o) => o.Key === t.Key)), ...own];
  return request;
}
