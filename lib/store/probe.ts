// The control store proves itself before anything trusts it. Job records, tokens, leases and
// budgets rely on conditional writes (If-None-Match: * to create, If-Match to replace); a store
// that answers 200 and ignores them (RGW's dbstore backend, Garage) would let one
// ClientRequestToken create two jobs and two attempts of one child run at once, silently. So at
// start (every runtime, and each Lambda instance's first invocation) a scratch object is created,
// created again (must fail 412), replaced with a stale ETag (must fail 412) and with the right one
// (must succeed), then removed. A store that fails any of these is refused, by name.
// Ceph RGW before Squid compares a PutObject's If-Match with the ETag unquoted: the quoted form
// RFC 9110 and AWS use is refused 412 even when it is current, the bare form matches. The probe
// finds which form the store takes (checking that a stale one is refused in that form too), and
// the store then writes in it.
import { DeleteObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { S3BatchError } from "../errors.ts";

/** The control store does not honour conditional writes: nothing may run on it. */
export class UntrustedStoreError extends S3BatchError {}

const STALE_ETAG = '"00000000000000000000000000000000"';

/** How the store wants a PutObject's If-Match: the ETag as given (quoted), or without quotes. */
export type IfMatchForm = "quoted" | "bare";

export const bareEtag = (etag: string) => etag.replace(/^"(.*)"$/, "$1");

const refusedAsConflict = (err: unknown) =>
  err instanceof S3ServiceException && [409, 412].includes(err.$metadata.httpStatusCode ?? 0);

/**
 * Proves that `bucket` on the control endpoint honours If-None-Match and If-Match on PutObject,
 * and answers the If-Match form it takes; UntrustedStoreError names the endpoint and what it
 * ignored. Other errors (the store is down) are thrown as they are: the caller may try again.
 */
export async function proveConditionalWrites(
  s3: S3Client,
  bucket: string,
  endpoint: string,
): Promise<IfMatchForm> {
  const key = `probe/${Date.now()}-${crypto.randomUUID()}`;
  const put = (conditions: { IfNoneMatch?: string; IfMatch?: string }) =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: new TextEncoder().encode("probe"),
        ...conditions,
      }),
    );
  const untrusted = (what: string) =>
    new UntrustedStoreError(
      `the control store at ${endpoint} (bucket ${bucket}) ${what}: s3batch keeps job state with conditional writes and will not run on a store that ignores them (docs/operators.md, "Control stores")`,
    );
  const expectRefused = async (conditions: { IfNoneMatch?: string; IfMatch?: string }, what: string) => {
    try {
      await put(conditions);
    } catch (err) {
      if (refusedAsConflict(err)) return;
      throw err;
    }
    throw untrusted(what);
  };
  const created = await put({ IfNoneMatch: "*" });
  try {
    await expectRefused({ IfNoneMatch: "*" }, "accepted a second If-None-Match: * PutObject of one key");
    await expectRefused({ IfMatch: STALE_ETAG }, "accepted a PutObject whose If-Match names a stale ETag");
    const current = created.ETag ?? "";
    try {
      await put({ IfMatch: current });
      return "quoted";
    } catch (err) {
      if (!refusedAsConflict(err)) throw err;
    }
    // Refused in the quoted form: does the store take the ETag bare, and refuse a stale bare one?
    await expectRefused(
      { IfMatch: bareEtag(STALE_ETAG) },
      "accepted a PutObject whose If-Match names a stale ETag",
    );
    try {
      await put({ IfMatch: bareEtag(current) });
      return "bare";
    } catch (err) {
      if (refusedAsConflict(err))
        throw untrusted("refused a PutObject whose If-Match names the current ETag");
      throw err;
    }
  } finally {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
  }
}

/** Where a runtime's log may say the control store is: the endpoint's origin, or AWS S3. */
export const storeName = (endpoint: string | undefined) => {
  if (!endpoint) return "AWS S3";
  try {
    return new URL(endpoint).origin;
  } catch {
    return "(the configured control endpoint)";
  }
};
