// SigV4 signing of outgoing requests (the lean request path, endpoints/lean-s3.ts), with node:crypto's
// synchronous HMAC and SHA-256 (Node, Lambda and Deno all have it): per request one SHA-256 of the
// canonical request and one HMAC, the signing key kept per day. WebCrypto's asynchronous calls
// cost more than the signature itself at a thousand requests a second.
import { createHash, createHmac } from "node:crypto";

/** RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX. */
export const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ToSign {
  method: string;
  /** The path as sent, already encoded (S3: each key segment encoded once, no normalization). */
  path: string;
  /** Query parameters, not encoded. */
  query: readonly (readonly [string, string])[];
  /** Lower-case names; `host` included. Every header given is signed. */
  headers: Record<string, string>;
  /** The hex SHA-256 of the body (also sent as x-amz-content-sha256). */
  payloadHash: string;
}

export class SigV4Signer {
  private key: { day: string; key: Buffer } | undefined;
  /** The last second's x-amz-date: formatting a date is a cost at a thousand requests a second. */
  private clock = { second: 0, amzDate: "" };

  constructor(
    private readonly credentials: SigningCredentials,
    private readonly region: string,
    private readonly service: string,
  ) {}

  /** The encoded query string, as sent and as signed. */
  static queryString(query: ToSign["query"]): string {
    return query
      .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
      .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
  }

  /** The headers to send: the given ones, x-amz-date, the session token, and Authorization. */
  sign(r: ToSign, now = new Date()): Record<string, string> {
    const second = Math.floor(now.getTime() / 1000);
    if (second !== this.clock.second)
      this.clock = { second, amzDate: now.toISOString().replace(/[:-]|\.\d{3}/g, "") };
    const amzDate = this.clock.amzDate;
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      ...r.headers,
      "x-amz-date": amzDate,
      "x-amz-content-sha256": r.payloadHash,
      ...(this.credentials.sessionToken ? { "x-amz-security-token": this.credentials.sessionToken } : {}),
    };
    const names = Object.keys(headers).sort();
    const signedHeaders = names.join(";");
    const canonical = [
      r.method,
      r.path,
      SigV4Signer.queryString(r.query),
      names.map((n) => `${n}:${String(headers[n]).trim().replace(/\s+/g, " ")}\n`).join(""),
      signedHeaders,
      r.payloadHash,
    ].join("\n");
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash("sha256").update(canonical).digest("hex")}`;
    const signature = createHmac("sha256", this.signingKey(day)).update(stringToSign).digest("hex");
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private signingKey(day: string): Buffer {
    if (this.key?.day === day) return this.key.key;
    const step = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
    const key = step(
      step(step(step(`AWS4${this.credentials.secretAccessKey}`, day), this.region), this.service),
      "aws4_request",
    );
    this.key = { day, key };
    return key;
  }
}
