// The CLI's view of an s3batch API: the S3 Control operations through the AWS SDK's own client,
// and s3batch's extension routes (lib/api/extensions.ts) through fetch, signed the same way.
// Requests go to the endpoint as given: the account travels in x-amz-account-id, never as a host
// prefix, so `http://127.0.0.1:8787` works without a hosts-file line.
import { Sha256 } from "@aws-crypto/sha256-js";
import { S3ControlClient } from "@aws-sdk/client-s3-control";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { ApiError, Unreachable } from "./exit.ts";

export interface ApiOptions {
  endpoint: string;
  accountId: string;
  region: string;
  profile?: string | undefined;
}

/** Connection failures and refused credentials: the API cannot be used at all (exit 3). */
const NETWORK = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|EPIPE)$/;
const REFUSED = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"]);

/** Turns what a call threw into the CLI's error classes. */
export function classify(err: unknown, endpoint: string): Error {
  if (err instanceof ApiError || err instanceof Unreachable) return err;
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string; message?: string };
    $metadata?: { httpStatusCode?: number };
    Code?: string;
  };
  const code = e.code ?? e.cause?.code ?? "";
  if (
    NETWORK.test(code) ||
    e.name === "TimeoutError" ||
    (e.name === "TypeError" && /fetch failed/.test(e.message ?? ""))
  )
    return new Unreachable(
      `cannot reach the s3batch API at ${endpoint}: ${code || e.cause?.message || e.message}`,
    );
  if (e.name === "CredentialsProviderError")
    return new Unreachable(`no credentials: ${e.message ?? ""} (set AWS_ACCESS_KEY_ID or use --profile)`);
  const status = e.$metadata?.httpStatusCode ?? 0;
  const name = e.Code ?? e.name ?? "Error";
  // A role that may not do something is the request's answer, not a refusal of the credentials.
  if (name === "AccessDenied" && /\brole\b/.test(e.message ?? ""))
    return new ApiError(name, status, e.message ?? "");
  if (REFUSED.has(name) || (status === 403 && name !== "JobStatusException"))
    return new Unreachable(
      `the s3batch API at ${endpoint} refused the credentials: ${name}: ${e.message ?? ""}`,
    );
  return new ApiError(name, status, e.message ?? String(err));
}

function xmlField(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

export class Api {
  readonly control: S3ControlClient;
  private readonly credentials: AwsCredentialIdentityProvider;
  private readonly signer: SignatureV4;

  constructor(readonly o: ApiOptions) {
    this.credentials = fromNodeProviderChain(o.profile ? { profile: o.profile } : {});
    this.control = new S3ControlClient({
      region: o.region,
      endpoint: o.endpoint,
      credentials: this.credentials,
      maxAttempts: 3,
      // The S3 Control endpoint rules put the account in front of the host: send to the host given.
      endpointProvider: () => ({ url: new URL(o.endpoint) }),
    });
    this.signer = new SignatureV4({
      service: "s3",
      region: o.region,
      credentials: this.credentials,
      sha256: Sha256,
    });
  }

  get accountId(): string {
    return this.o.accountId;
  }

  /** An S3 Control call, its errors classified. */
  async call<T>(send: (c: S3ControlClient) => Promise<T>): Promise<T> {
    try {
      return await send(this.control);
    } catch (err) {
      throw classify(err, this.o.endpoint);
    }
  }

  /** A signed request to an extension route; answers the response (2xx) or throws. */
  async request(
    method: "GET" | "PUT" | "POST",
    path: string,
    query: Record<string, string> = {},
    body?: Uint8Array,
  ): Promise<Response> {
    const url = new URL(path, this.o.endpoint.endsWith("/") ? this.o.endpoint : `${this.o.endpoint}/`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    try {
      const signed = await this.signer.sign(
        new HttpRequest({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query,
          headers: { host: url.host, "x-amz-account-id": this.o.accountId },
          ...(body ? { body } : {}),
        }),
      );
      // fetch sets Host itself, to the very value signed above.
      const { host: _host, ...headers } = signed.headers;
      const res = await fetch(url, {
        method,
        headers,
        ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
      });
      if (res.ok) return res;
      const text = await res.text();
      const code = xmlField(text, "Code") ?? `HTTP ${res.status}`;
      throw Object.assign(new Error(xmlField(text, "Message") ?? text.slice(0, 200)), {
        name: code,
        $metadata: { httpStatusCode: res.status },
      });
    } catch (err) {
      throw classify(err, this.o.endpoint);
    }
  }

  async json<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    return (await (await this.request("GET", path, query)).json()) as T;
  }

  destroy(): void {
    this.control.destroy();
  }
}
