// SigV4 verification of incoming requests, in the Authorization-header and presigned-query forms.
// It rebuilds the canonical request from what arrived (the SignedHeaders the client named, the raw
// path, the re-encoded query), checks the credential scope, the clock, and the body's SHA-256
// against x-amz-content-sha256 (a signer trusts that header; we must not), then compares
// signatures in constant time. Web Crypto only, so it runs on Node, Lambda and Deno alike.
import type { ApiKey } from "../auth/keys.ts";
import { S3ControlError } from "../errors.ts";
import { sha256Hex } from "../util/hash.ts";
import { rfc3986 } from "../util/sigv4-sign.ts";

export interface SignedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
}

export interface VerifyOptions {
  region: string;
  service?: string;
  now?: Date;
  lookup: (accessKeyId: string) => ApiKey | undefined;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_EXPIRY_S = 7 * 24 * 3600;
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const denied = (code: string, message: string) => new S3ControlError(code, 403, message);
const enc = new TextEncoder();
const hex = (b: ArrayBuffer) =>
  Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

async function hmac(key: Uint8Array, data: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(data)));
}

function canonicalQuery(url: URL, drop?: string): string {
  const raw = url.search.startsWith("?") ? url.search.slice(1) : url.search;
  const pairs: [string, string][] = [];
  for (const part of raw.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const [k, v] = eq === -1 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)];
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(k);
      value = decodeURIComponent(v);
    } catch {
      throw denied("SignatureDoesNotMatch", "The query string is not correctly encoded");
    }
    if (key === drop) continue;
    pairs.push([rfc3986(key), rfc3986(value)]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
  presigned: boolean;
  expiresSeconds?: number;
}

function parseCredential(credential: string) {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request") {
    throw denied("AuthorizationHeaderMalformed", "The credential scope is malformed");
  }
  const [accessKeyId = "", date = "", region = "", service = ""] = parts;
  return { accessKeyId, date, region, service };
}

function parseRequest(req: SignedRequest): Parsed {
  const q = req.url.searchParams;
  const auth = req.headers.get("authorization");
  if (auth) {
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
        auth.trim(),
      );
    if (!m) throw denied("AuthorizationHeaderMalformed", "The Authorization header is malformed");
    const amzDate = req.headers.get("x-amz-date") ?? "";
    const payloadHash = req.headers.get("x-amz-content-sha256") ?? "";
    if (!payloadHash) throw denied("InvalidRequest", "x-amz-content-sha256 is required");
    return {
      ...parseCredential(m[1] ?? ""),
      signedHeaders: (m[2] ?? "").split(";"),
      signature: m[3] ?? "",
      amzDate,
      payloadHash,
      presigned: false,
    };
  }
  if (q.get("X-Amz-Algorithm")) {
    if (q.get("X-Amz-Algorithm") !== ALGORITHM)
      throw denied("AuthorizationQueryParametersError", "Unsupported algorithm");
    const signature = q.get("X-Amz-Signature") ?? "";
    if (!/^[0-9a-f]{64}$/.test(signature))
      throw denied("AuthorizationQueryParametersError", "X-Amz-Signature is malformed");
    const expires = Number(q.get("X-Amz-Expires") ?? "");
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_EXPIRY_S) {
      throw denied("AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 and 604800 seconds");
    }
    const signedHeaders = (q.get("X-Amz-SignedHeaders") ?? "").split(";");
    // The payload hash of a presigned URL is the signed x-amz-content-sha256 (as a header or,
    // hoisted by the signer, in the query); without one, UNSIGNED-PAYLOAD or the body's hash.
    const payloadHash =
      (signedHeaders.includes("x-amz-content-sha256") ? req.headers.get("x-amz-content-sha256") : null) ??
      q.get("x-amz-content-sha256") ??
      "";
    return {
      ...parseCredential(q.get("X-Amz-Credential") ?? ""),
      signedHeaders,
      signature,
      amzDate: q.get("X-Amz-Date") ?? "",
      payloadHash,
      presigned: true,
      expiresSeconds: expires,
    };
  }
  throw denied("AccessDenied", "The request is not signed");
}

function parseAmzDate(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) throw denied("AccessDenied", "x-amz-date is missing or malformed");
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A request whose form, key, clock and scope were checked: what is left needs the body. */
export interface Presented {
  parsed: Parsed;
  key: ApiKey;
}

/**
 * Everything that can be judged before the body is read: the signature's form, the clock, the
 * credential scope and the access key. Throws a 403 S3ControlError; the body is never touched.
 */
export function authenticateHeaders(req: Omit<SignedRequest, "body">, o: VerifyOptions): Presented {
  const p = parseRequest({ ...req, body: new Uint8Array() });
  const now = (o.now ?? new Date()).getTime();
  const signedAt = parseAmzDate(p.amzDate);
  if (p.presigned) {
    if (signedAt - now > MAX_SKEW_MS)
      throw denied("RequestTimeTooSkewed", "The request was signed in the future");
    if (now > signedAt + (p.expiresSeconds ?? 0) * 1000)
      throw denied("AccessDenied", "The presigned request has expired");
  } else if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    throw denied(
      "RequestTimeTooSkewed",
      "The difference between the request time and the server's time is too large",
    );
  }
  if (p.date !== p.amzDate.slice(0, 8))
    throw denied("AuthorizationHeaderMalformed", "The credential date does not match x-amz-date");
  if (p.region !== o.region)
    throw denied("AuthorizationHeaderMalformed", `The credential scope must name the region ${o.region}`);
  if (p.service !== (o.service ?? "s3"))
    throw denied("AuthorizationHeaderMalformed", "The credential scope names the wrong service");
  if (!p.signedHeaders.includes("host")) throw denied("AccessDenied", "The host header must be signed");
  if (p.signedHeaders.join(";") !== [...p.signedHeaders].sort().join(";")) {
    throw denied("AuthorizationHeaderMalformed", "SignedHeaders must be sorted");
  }
  if (p.payloadHash !== "" && p.payloadHash !== "UNSIGNED-PAYLOAD" && !/^[0-9a-f]{64}$/.test(p.payloadHash))
    throw denied("XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not a SHA-256");
  const key = o.lookup(p.accessKeyId);
  if (!key) throw denied("InvalidAccessKeyId", "The access key ID does not exist in our records");
  return { parsed: p, key };
}

/** Checks the body's SHA-256 and the signature of a request `authenticateHeaders` let through. */
export async function verifySignature(presented: Presented, req: SignedRequest): Promise<ApiKey> {
  const { parsed: p, key } = presented;
  const actualHash = await sha256Hex(req.body);
  let payloadHashes: string[];
  if (p.payloadHash === "") {
    payloadHashes = actualHash === EMPTY_SHA256 ? ["UNSIGNED-PAYLOAD", actualHash] : [actualHash];
  } else if (p.payloadHash === "UNSIGNED-PAYLOAD") {
    if (actualHash !== EMPTY_SHA256)
      throw denied("XAmzContentSHA256Mismatch", "A request with a body must sign its SHA-256");
    payloadHashes = [p.payloadHash];
  } else if (p.payloadHash !== actualHash) {
    throw denied("XAmzContentSHA256Mismatch", "The body's SHA-256 does not match x-amz-content-sha256");
  } else {
    payloadHashes = [p.payloadHash];
  }

  const canonicalHeaders = p.signedHeaders
    .map((h) => `${h}:${(req.headers.get(h) ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const query = canonicalQuery(req.url, p.presigned ? "X-Amz-Signature" : undefined);
  const scope = `${p.date}/${p.region}/${p.service}/aws4_request`;
  let signingKey = await hmac(enc.encode(`AWS4${key.secretAccessKey}`), p.date);
  for (const part of [p.region, p.service, "aws4_request"]) signingKey = await hmac(signingKey, part);
  let matched = false;
  for (const payloadHash of payloadHashes) {
    const canonicalRequest = [
      req.method.toUpperCase(),
      req.url.pathname || "/",
      query,
      canonicalHeaders,
      p.signedHeaders.join(";"),
      payloadHash,
    ].join("\n");
    const stringToSign = [ALGORITHM, p.amzDate, scope, await sha256Hex(canonicalRequest)].join("\n");
    const expected = hex((await hmac(signingKey, stringToSign)).buffer as ArrayBuffer);
    matched = timingSafeEqual(expected, p.signature) || matched;
  }
  if (!matched) {
    throw denied(
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided",
    );
  }
  return key;
}

/** Verifies the request's signature and returns the key that signed it; throws a 403 S3ControlError otherwise. */
export async function verifySigV4(req: SignedRequest, o: VerifyOptions): Promise<ApiKey> {
  return verifySignature(authenticateHeaders(req, o), req);
}
