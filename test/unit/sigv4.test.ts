// The SigV4 verifier against requests signed by the SDK's own signer, in both forms.
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { verifySigV4 } from "../../lib/api/sigv4.ts";
import type { ApiKey } from "../../lib/auth/keys.ts";

const key: ApiKey = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  accountId: "123456789012",
};
const signer = (region = "us-east-1") =>
  new SignatureV4({ credentials: key, region, service: "s3", sha256: Sha256, uriEscapePath: false });
const lookup = (id: string) => (id === key.accessKeyId ? key : undefined);

function toVerifiable(r: HttpRequest) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(r.query ?? {})) for (const x of [v ?? ""].flat()) qs.append(k, x);
  const search = qs.toString().replace(/\+/g, "%20");
  return {
    method: r.method,
    url: new URL(`http://${r.hostname}:${r.port}${r.path}${search ? `?${search}` : ""}`),
    headers: new Headers(r.headers),
    body: new TextEncoder().encode(typeof r.body === "string" ? r.body : ""),
  };
}

const base = (headers: Record<string, string> = {}) =>
  new HttpRequest({
    method: "GET",
    protocol: "http:",
    hostname: "123456789012.localhost",
    port: 8787,
    path: "/v20180820/jobs",
    query: { jobStatuses: ["Active", "Complete"], maxResults: "10" },
    headers: { host: "123456789012.localhost:8787", "x-amz-account-id": "123456789012", ...headers },
  });

describe("verifySigV4", () => {
  it("accepts the header form with a signed body hash", async () => {
    const signed = (await signer().sign(
      base({ "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" }),
    )) as HttpRequest;
    await expect(verifySigV4(toVerifiable(signed), { region: "us-east-1", lookup })).resolves.toEqual(key);
  });

  it("accepts presigned URLs with an unsigned payload or with no payload hash at all", async () => {
    for (const headers of [{ "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }, {}] as Record<string, string>[]) {
      const signed = (await signer().presign(base(headers), { expiresIn: 300 })) as HttpRequest;
      await expect(verifySigV4(toVerifiable(signed), { region: "us-east-1", lookup })).resolves.toEqual(key);
    }
  });

  it("refuses a scope for another region, an unknown key, and a changed header", async () => {
    const hash = {
      "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    const other = (await signer("eu-west-1").sign(base(hash))) as HttpRequest;
    await expect(verifySigV4(toVerifiable(other), { region: "us-east-1", lookup })).rejects.toMatchObject({
      code: "AuthorizationHeaderMalformed",
    });
    const signed = (await signer().sign(base(hash))) as HttpRequest;
    await expect(
      verifySigV4(toVerifiable(signed), { region: "us-east-1", lookup: () => undefined }),
    ).rejects.toMatchObject({
      code: "InvalidAccessKeyId",
    });
    const changed = toVerifiable(signed);
    changed.headers.set("x-amz-account-id", "210987654321");
    await expect(verifySigV4(changed, { region: "us-east-1", lookup })).rejects.toMatchObject({
      code: "SignatureDoesNotMatch",
    });
  });
});
