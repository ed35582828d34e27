// The lean request path for the per-object calls a batch job makes by the million: HeadObject,
// Get/Put/DeleteObjectTagging, PutObjectAcl (canned), PutObjectRetention, PutObjectLegalHold,
// RestoreObject and DeleteObject. The SDK spends about a millisecond of CPU on each (its middleware
// stack, endpoint rules, serializers); here a request is built from the command's input, signed
// (util/sigv4-sign.ts) and sent over the endpoint's own keep-alive pool, and the answer is read
// into the same output fields, or thrown as the same S3ServiceException (name, status, request id),
// so operations, the retry policy and the reports cannot tell the paths apart. Each request takes a
// slot of the gateway's budget and reports to its adaptive limit, as the SDK's requests do through
// their middleware, and is retried as the SDK's are (three tries, the policy's back-off).
// Anything else (other commands, inputs this path does not write, keys with "." or ".." segments,
// which URLs would rewrite, endpoints with virtual-host addressing or no static credentials) goes
// through the SDK unchanged.
import { createHash } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { S3BatchError } from "../errors.ts";
import { retryAttempts } from "../retry/attempts.ts";
import { classifyError } from "../retry/policy.ts";
import { rfc3986, SigV4Signer } from "../util/sigv4-sign.ts";
import { type AdaptiveLimit, endOf } from "./adaptive.ts";
import type { SharedBudget } from "./budget.ts";
import type { Endpoint } from "./config.ts";

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** An answer's body is read up to this (tag sets and error documents are a few KiB). */
const MAX_BODY = 1024 * 1024;
const SDK_TRIES = 3;

type Input = Record<string, unknown>;

interface Built {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  query: [string, string][];
  headers: Record<string, string>;
  body?: string;
  output: (res: IncomingMessage, body: string) => Record<string, unknown>;
}

interface Call {
  /** The input fields this path writes; any other field sends the command through the SDK. */
  fields: readonly string[];
  build(input: Input): Built | undefined;
}

const OBJECT = ["Bucket", "Key", "VersionId"] as const;

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c,
  );
const unesc = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e === "amp"
      ? "&"
      : e === "lt"
        ? "<"
        : e === "gt"
          ? ">"
          : e === "quot"
            ? '"'
            : e === "apos"
              ? "'"
              : String.fromCodePoint(e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1))),
  );

const versionQuery = (input: Input): [string, string][] =>
  input.VersionId ? [["versionId", String(input.VersionId)]] : [];
const versionOut = (res: IncomingMessage) => optional("VersionId", header(res, "x-amz-version-id"));
const header = (res: IncomingMessage, name: string) => {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(",") : v;
};
const optional = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value });

/** HeadObject's answer headers as the SDK's output fields. */
const HEAD_FIELDS: [string, string, ((v: string) => unknown)?][] = [
  ["accept-ranges", "AcceptRanges"],
  ["cache-control", "CacheControl"],
  ["content-disposition", "ContentDisposition"],
  ["content-encoding", "ContentEncoding"],
  ["content-language", "ContentLanguage"],
  ["content-length", "ContentLength", Number],
  ["content-range", "ContentRange"],
  ["content-type", "ContentType"],
  ["etag", "ETag"],
  ["expires", "Expires", (v) => new Date(v)],
  ["last-modified", "LastModified", (v) => new Date(v)],
  ["x-amz-archive-status", "ArchiveStatus"],
  ["x-amz-checksum-crc32", "ChecksumCRC32"],
  ["x-amz-checksum-crc32c", "ChecksumCRC32C"],
  ["x-amz-checksum-crc64nvme", "ChecksumCRC64NVME"],
  ["x-amz-checksum-sha1", "ChecksumSHA1"],
  ["x-amz-checksum-sha256", "ChecksumSHA256"],
  ["x-amz-checksum-type", "ChecksumType"],
  ["x-amz-delete-marker", "DeleteMarker", (v) => v === "true"],
  ["x-amz-expiration", "Expiration"],
  ["x-amz-mp-parts-count", "PartsCount", Number],
  ["x-amz-object-lock-legal-hold", "ObjectLockLegalHoldStatus"],
  ["x-amz-object-lock-mode", "ObjectLockMode"],
  ["x-amz-object-lock-retain-until-date", "ObjectLockRetainUntilDate", (v) => new Date(v)],
  ["x-amz-replication-status", "ReplicationStatus"],
  ["x-amz-request-charged", "RequestCharged"],
  ["x-amz-restore", "Restore"],
  ["x-amz-server-side-encryption", "ServerSideEncryption"],
  ["x-amz-server-side-encryption-aws-kms-key-id", "SSEKMSKeyId"],
  ["x-amz-server-side-encryption-bucket-key-enabled", "BucketKeyEnabled", (v) => v === "true"],
  ["x-amz-storage-class", "StorageClass"],
  ["x-amz-tagging-count", "TagCount", Number],
  ["x-amz-version-id", "VersionId"],
  ["x-amz-website-redirect-location", "WebsiteRedirectLocation"],
];

function headOutput(res: IncomingMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field, as] of HEAD_FIELDS) {
    const v = header(res, name);
    if (v !== undefined) out[field] = as ? as(v) : v;
  }
  if (out.Expires !== undefined) out.ExpiresString = header(res, "expires");
  const meta: Record<string, string> = {};
  for (const [name, v] of Object.entries(res.headers))
    if (name.startsWith("x-amz-meta-") && v !== undefined)
      meta[name.slice(11)] = Array.isArray(v) ? v.join(",") : v;
  out.Metadata = meta;
  return out;
}

const TAG = /<Tag>\s*<Key>([\s\S]*?)<\/Key>\s*<Value>([\s\S]*?)<\/Value>\s*<\/Tag>/g;

const xmlBody = (root: string, inner: string) => `<${root} xmlns="${NS}">${inner}</${root}>`;

const CALLS: Record<string, Call> = {
  HeadObjectCommand: {
    fields: [...OBJECT, "IfMatch", "IfNoneMatch", "PartNumber"],
    build: (input) => ({
      method: "HEAD",
      query: [
        ...versionQuery(input),
        ...(input.PartNumber ? [["partNumber", String(input.PartNumber)] as [string, string]] : []),
      ],
      headers: {
        ...(input.IfMatch ? { "if-match": String(input.IfMatch) } : {}),
        ...(input.IfNoneMatch ? { "if-none-match": String(input.IfNoneMatch) } : {}),
      },
      output: (res) => headOutput(res),
    }),
  },
  GetObjectTaggingCommand: {
    fields: OBJECT,
    build: (input) => ({
      method: "GET",
      query: [["tagging", ""], ...versionQuery(input)],
      headers: {},
      output: (res, body) => ({
        ...versionOut(res),
        TagSet: [...body.matchAll(TAG)].map((m) => ({ Key: unesc(m[1] ?? ""), Value: unesc(m[2] ?? "") })),
      }),
    }),
  },
  PutObjectTaggingCommand: {
    fields: [...OBJECT, "Tagging"],
    build: (input) => {
      const tags =
        (input.Tagging as { TagSet?: { Key?: string; Value?: string }[] } | undefined)?.TagSet ?? [];
      const inner = tags
        .map((t) => `<Tag><Key>${esc(t.Key ?? "")}</Key><Value>${esc(t.Value ?? "")}</Value></Tag>`)
        .join("");
      return {
        method: "PUT",
        query: [["tagging", ""], ...versionQuery(input)],
        headers: {},
        body: xmlBody("Tagging", `<TagSet>${inner}</TagSet>`),
        output: (res) => versionOut(res),
      };
    },
  },
  DeleteObjectTaggingCommand: {
    fields: OBJECT,
    build: (input) => ({
      method: "DELETE",
      query: [["tagging", ""], ...versionQuery(input)],
      headers: {},
      output: (res) => versionOut(res),
    }),
  },
  PutObjectAclCommand: {
    fields: [...OBJECT, "ACL"],
    build: (input) =>
      input.ACL === undefined
        ? undefined
        : {
            method: "PUT",
            query: [["acl", ""], ...versionQuery(input)],
            headers: { "x-amz-acl": String(input.ACL) },
            output: () => ({}),
          },
  },
  PutObjectRetentionCommand: {
    fields: [...OBJECT, "Retention", "BypassGovernanceRetention"],
    build: (input) => {
      const r = (input.Retention ?? {}) as { Mode?: string; RetainUntilDate?: Date };
      const inner =
        (r.Mode ? `<Mode>${esc(r.Mode)}</Mode>` : "") +
        (r.RetainUntilDate ? `<RetainUntilDate>${r.RetainUntilDate.toISOString()}</RetainUntilDate>` : "");
      return {
        method: "PUT",
        query: [["retention", ""], ...versionQuery(input)],
        headers: (input.BypassGovernanceRetention
          ? { "x-amz-bypass-governance-retention": "true" }
          : {}) as Record<string, string>,
        body: xmlBody("Retention", inner),
        output: () => ({}),
      };
    },
  },
  PutObjectLegalHoldCommand: {
    fields: [...OBJECT, "LegalHold"],
    build: (input) => {
      const status = (input.LegalHold as { Status?: string } | undefined)?.Status;
      return {
        method: "PUT",
        query: [["legal-hold", ""], ...versionQuery(input)],
        headers: {},
        body: xmlBody("LegalHold", status ? `<Status>${esc(status)}</Status>` : ""),
        output: () => ({}),
      };
    },
  },
  RestoreObjectCommand: {
    fields: [...OBJECT, "RestoreRequest"],
    build: (input) => {
      const r = (input.RestoreRequest ?? {}) as { Days?: number; GlacierJobParameters?: { Tier?: string } };
      if (Object.keys(r).some((k) => k !== "Days" && k !== "GlacierJobParameters")) return undefined;
      const tier = r.GlacierJobParameters?.Tier;
      const inner =
        (r.Days !== undefined ? `<Days>${Number(r.Days)}</Days>` : "") +
        (tier ? `<GlacierJobParameters><Tier>${esc(tier)}</Tier></GlacierJobParameters>` : "");
      return {
        method: "POST",
        query: [["restore", ""], ...versionQuery(input)],
        headers: {},
        body: xmlBody("RestoreRequest", inner),
        output: (res) => optional("RestoreOutputPath", header(res, "x-amz-restore-output-path")),
      };
    },
  },
  DeleteObjectCommand: {
    fields: OBJECT,
    build: (input) => ({
      method: "DELETE",
      query: versionQuery(input),
      headers: {},
      output: (res) => ({
        ...versionOut(res),
        ...optional(
          "DeleteMarker",
          header(res, "x-amz-delete-marker") === undefined
            ? undefined
            : header(res, "x-amz-delete-marker") === "true",
        ),
      }),
    }),
  },
};

/**
 * A request body with its MD5 and SHA-256. A job sends the same body to every object (one tag set,
 * one retention), so the last few are kept rather than hashed again per request.
 */
const bodies = new Map<string, { bytes: Buffer; md5: string; sha256: string }>();
function bodyOf(text: string): { bytes: Buffer; md5: string; sha256: string } {
  let body = bodies.get(text);
  if (!body) {
    const bytes = Buffer.from(text, "utf8");
    body = {
      bytes,
      md5: createHash("md5").update(bytes).digest("base64"),
      sha256: createHash("sha256").update(bytes).digest("hex"),
    };
    if (bodies.size >= 32) bodies.delete(bodies.keys().next().value as string);
    bodies.set(text, body);
  }
  return body;
}

/** A key's path segments encoded as S3 signs them; undefined for a key a URL would rewrite. */
function encodedKey(key: string): string | undefined {
  const segments = key.split("/");
  if (segments.some((s) => s === "." || s === "..")) return undefined;
  return segments
    .map((s) =>
      encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join("/");
}

const STATUS_NAMES: Record<number, string> = {
  301: "MovedPermanently",
  304: "NotModified",
  400: "BadRequest",
  403: "Forbidden",
  404: "NotFound",
  412: "PreconditionFailed",
};

function errorOf(res: IncomingMessage, body: string, attempts: number): S3ServiceException {
  const status = res.statusCode ?? 500;
  const tag = (name: string) => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(body)?.[1];
  const code = tag("Code");
  const name = code ? unesc(code) : (STATUS_NAMES[status] ?? "Unknown");
  const requestId = tag("RequestId") ?? header(res, "x-amz-request-id");
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    message: unesc(tag("Message") ?? name),
    $metadata: {
      httpStatusCode: status,
      ...(requestId ? { requestId: unesc(requestId) } : {}),
      attempts,
    },
  });
}

export interface LeanOptions {
  budget?: SharedBudget;
  adaptive: AdaptiveLimit;
}

/** A timeout of the request's socket: the retry policy's "unavailable". */
class RequestTimeoutError extends S3BatchError {
  override readonly name = "TimeoutError";
}

/**
 * Sends the commands above on `s3`'s endpoint through the lean path; every other command, or input,
 * goes on through the SDK. Returns false (and changes nothing) for an endpoint the path does not
 * serve: virtual-host addressing, or credentials from the SDK's default chain.
 */
export function installLeanPath(s3: S3Client, endpoint: Endpoint, o: LeanOptions): boolean {
  const credentials = endpoint.credentials;
  if (!credentials || !endpoint.forcePathStyle) return false;
  const base = new URL(endpoint.url);
  const secure = base.protocol === "https:";
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: endpoint.maxConcurrency })
    : new HttpAgent({ keepAlive: true, maxSockets: endpoint.maxConcurrency });
  const send = secure ? httpsRequest : httpRequest;
  const signer = new SigV4Signer(credentials, endpoint.region, "s3");
  const prefix = base.pathname.replace(/\/+$/, "");
  const sdkSend = s3.send.bind(s3) as (command: unknown, options?: unknown) => Promise<unknown>;

  const once = (built: Built, path: string, signal: AbortSignal | undefined) =>
    new Promise<{ res: IncomingMessage; body: string }>((resolve, reject) => {
      const body = built.body === undefined ? undefined : bodyOf(built.body);
      const bodyBytes = body?.bytes;
      const query = SigV4Signer.queryString(built.query);
      const headers = signer.sign({
        method: built.method,
        path,
        query: built.query,
        headers: {
          ...built.headers,
          host: base.host,
          ...(bodyBytes
            ? {
                "content-md5": body?.md5 as string,
                "content-type": "application/xml",
                "content-length": String(bodyBytes.length),
              }
            : {}),
        },
        payloadHash: body?.sha256 ?? EMPTY_SHA256,
      });
      const req = send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: built.method,
          path: query ? `${path}?${query}` : path,
          headers,
          agent,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size <= MAX_BODY) chunks.push(c);
          });
          res.on("end", () => resolve({ res, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.setTimeout(120_000, () =>
        req.destroy(new RequestTimeoutError("the gateway did not answer in 120 s")),
      );
      req.on("error", reject);
      req.end(bodyBytes);
    });

  /** One try: a slot of the budget, the adaptive limit told, the answer read to its end. */
  const attempt = async (built: Built, path: string, signal: AbortSignal | undefined, tries: number) => {
    const release = o.budget ? await o.budget.acquire(signal) : () => {};
    const at = performance.now();
    o.adaptive.started();
    try {
      const { res, body } = await once(built, path, signal);
      const status = res.statusCode ?? 500;
      if (status >= 200 && status < 300) {
        o.adaptive.ended(performance.now() - at, "answered");
        return {
          ...built.output(res, body),
          $metadata: {
            httpStatusCode: status,
            ...optional("requestId", header(res, "x-amz-request-id")),
            attempts: tries,
            totalRetryDelay: 0,
          },
        };
      }
      const err = errorOf(res, body, tries);
      o.adaptive.ended(performance.now() - at, endOf(err));
      throw err;
    } catch (err) {
      if (!(err instanceof S3ServiceException)) o.adaptive.ended(performance.now() - at, endOf(err));
      throw err;
    } finally {
      release();
    }
  };

  s3.send = ((
    command: { constructor: { name: string }; input: Input },
    options?: { abortSignal?: AbortSignal },
  ) => {
    const call = CALLS[command?.constructor?.name];
    const input = command?.input;
    const key = typeof input?.Key === "string" ? encodedKey(input.Key) : undefined;
    const built =
      call &&
      key !== undefined &&
      typeof input.Bucket === "string" &&
      Object.keys(input).every((k) => input[k] === undefined || call.fields.includes(k))
        ? call.build(input)
        : undefined;
    if (!built || typeof options === "function") return sdkSend(command, options);
    const path = `${prefix}/${rfc3986(input.Bucket as string)}/${key}`;
    const signal = options?.abortSignal;
    // The SDK's own retries of one request (retry/policy.ts, gatewaySdkRetry): three tries.
    type Result = { ok: Record<string, unknown> } | { error: unknown };
    return retryAttempts<Result>(
      SDK_TRIES,
      "throttled",
      async (n) => {
        try {
          return { final: { ok: await attempt(built, path, signal, n) } };
        } catch (error) {
          return classifyError(error) === "final" || signal?.aborted
            ? { final: { error } }
            : { again: { error } };
        }
      },
      signal,
    ).then(({ value }) => {
      if ("error" in value) throw value.error;
      return value.ok;
    });
  }) as S3Client["send"];
  return true;
}
