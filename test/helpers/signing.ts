// Signs arbitrary requests with the SDK's own SigV4 signer, for tests that need bodies, query
// strings or dates the S3 Control client would never send (malformed input, tampering, old dates).
import { createHash } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { ACCOUNT_ID, TEST_CREDENTIALS } from "./clients.ts";

export interface SignOptions {
  method?: string;
  body?: string;
  query?: Record<string, string | string[]>;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  accountId?: string;
  signingDate?: Date;
  presign?: { expiresIn: number };
}

/**
 * Returns a signed Request for `base` + `path`, signed for the host `fetch` will send (the base
 * URL's), with the account in x-amz-account-id.
 */
export async function signedRequest(base: string, path: string, o: SignOptions = {}): Promise<Request> {
  const url = new URL(base);
  const body = o.body ?? "";
  const accountId = o.accountId ?? ACCOUNT_ID;
  const host = url.host;
  const request = new HttpRequest({
    method: o.method ?? "GET",
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path,
    query: o.query ?? {},
    headers: {
      host,
      "x-amz-account-id": accountId,
      "x-amz-content-sha256": createHash("sha256").update(body).digest("hex"),
      ...(body ? { "content-type": "application/xml" } : {}),
    },
    body,
  });
  const signer = new SignatureV4({
    credentials: o.credentials ?? TEST_CREDENTIALS,
    region: "us-east-1",
    service: "s3",
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = (
    o.presign
      ? await signer.presign(request, { expiresIn: o.presign.expiresIn, signingDate: o.signingDate })
      : await signer.sign(request, { signingDate: o.signingDate })
  ) as HttpRequest;
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(signed.query ?? {}))
    for (const x of [v ?? ""].flat()) search.append(k, x);
  const qs = search.toString().replace(/\+/g, "%20");
  const target = `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ""}${path}${qs ? `?${qs}` : ""}`;
  return new Request(target, { method: signed.method, headers: signed.headers, ...(body ? { body } : {}) });
}
