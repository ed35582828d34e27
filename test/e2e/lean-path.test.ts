// The lean request path answers as the SDK does. Every call it serves runs twice against the real
// gateways (LocalStack, moto and, where this machine runs it, Ceph RGW): once through the SDK's own
// stack, once through the lean path, on the same objects; outputs and errors must be the same
// (name, HTTP status, fault, the output fields), for odd keys and tag values, for absent keys and
// buckets, for refusals, and for a gateway that throttles every request.
import { randomUUID } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  RestoreObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AdaptiveLimit } from "../../lib/endpoints/adaptive.ts";
import { createS3Client } from "../../lib/endpoints/clients.ts";
import { installLeanPath } from "../../lib/endpoints/lean-s3.ts";
import { gatewaySdkRetry } from "../../lib/retry/policy.ts";
import { TEST_CREDENTIALS } from "../helpers/clients.ts";
import { startFaultProxy } from "../helpers/fault-proxy.ts";

const emulators = inject("emulators");
const gateways = Object.entries({
  localstack: emulators.gatewayA,
  moto: emulators.gatewayB,
  rgw: emulators.rgw,
}).filter((e): e is [string, string] => e[1] !== undefined);

function clients(url: string): { sdk: S3Client; lean: S3Client; adaptive: AdaptiveLimit } {
  const make = () =>
    createS3Client({
      endpoint: url,
      region: "us-east-1",
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
      maxSockets: 16,
      retry: gatewaySdkRetry(),
    });
  const lean = make();
  const adaptive = new AdaptiveLimit({ floor: 2, ceiling: 16 });
  const installed = installLeanPath(
    lean,
    {
      id: "g",
      url,
      region: "us-east-1",
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
      maxConcurrency: 16,
    },
    { adaptive },
  );
  if (!installed) throw new TypeError("the lean path was not installed");
  return { sdk: make(), lean, adaptive };
}

/** What a call came to, without what differs between any two calls (request ids, timings). */
async function outcome(s3: S3Client, command: unknown): Promise<unknown> {
  try {
    const { $metadata, ...out } = (await s3.send(command as HeadObjectCommand)) as Record<string, unknown> & {
      $metadata: { httpStatusCode?: number };
    };
    delete out.LastModified; // compared apart: two reads of one object may straddle a second
    return { ok: true, status: $metadata.httpStatusCode, ...out };
  } catch (err) {
    if (err instanceof S3ServiceException)
      return { ok: false, name: err.name, status: err.$metadata.httpStatusCode, fault: err.$fault };
    // An answer the SDK cannot parse (moto's HTML error pages) keeps only its status.
    const status = (err as { $response?: { statusCode?: number } }).$response?.statusCode;
    return status ? { ok: false, status, unparsed: true } : { thrown: String(err) };
  }
}

/** The lean path's outcome is the SDK's; where the SDK could not parse the answer, its status is. */
function expectSame(viaLean: unknown, viaSdk: unknown, what: string): void {
  if ((viaSdk as { unparsed?: boolean }).unparsed) {
    const { unparsed: _, ...rest } = viaSdk as Record<string, unknown>;
    expect(viaLean, what).toMatchObject(rest);
  } else expect(viaLean, what).toEqual(viaSdk);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const ODD_KEYS = [
  "plain.txt",
  "dir/sub dir/ü ß 日本語.txt",
  "a+b=c&d?e#f.txt",
  "percent%20not-a-space",
  "tilde~and*star(paren)'quote'!",
  "dots/./and/../segments",
  "trailing/",
];

describe.each(gateways)("the lean path on %s", (_name, url) => {
  const { sdk, lean } = clients(url);
  cleanups.push(
    () => sdk.destroy(),
    () => lean.destroy(),
  );
  const bucket = `lean-${randomUUID().slice(0, 8)}`;
  beforeAll(() => sdk.send(new CreateBucketCommand({ Bucket: bucket })));

  it("answers every call on odd keys as the SDK does", async () => {
    for (const Key of ODD_KEYS) {
      await sdk.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: `body of ${Key}`,
          Metadata: { team: "a", "x-odd": "ü" },
        }),
      );
      const object = { Bucket: bucket, Key };
      const calls = [
        new HeadObjectCommand(object),
        new PutObjectTaggingCommand({
          ...object,
          Tagging: {
            TagSet: [
              { Key: "xml<&>\"'", Value: "ünï 😀 &amp; <b>" },
              { Key: "empty", Value: "" },
            ],
          },
        }),
        new GetObjectTaggingCommand(object),
        new DeleteObjectTaggingCommand(object),
        new GetObjectTaggingCommand(object),
        new PutObjectAclCommand({ ...object, ACL: "public-read" }),
        new RestoreObjectCommand({
          ...object,
          RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: "Standard" } },
        }),
      ];
      for (const command of calls) {
        const viaSdk = await outcome(sdk, command);
        const viaLean = await outcome(lean, command);
        expectSame(viaLean, viaSdk, `${command.constructor.name} ${Key}`);
      }
      const [a, b] = await Promise.all([
        sdk.send(new HeadObjectCommand(object)),
        lean.send(new HeadObjectCommand(object)),
      ]);
      expect(Math.abs((a.LastModified?.getTime() ?? 0) - (b.LastModified?.getTime() ?? 1))).toBeLessThan(
        1000,
      );
    }
  });

  it("sets the tags the SDK reads back, and deletes as the SDK does", async () => {
    const Key = "dir/ü/tagged";
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "x" }));
    // What every gateway accepts in a tag: letters, digits, spaces and _.:/=+-@
    const TagSet = [
      { Key: "a", Value: "1" },
      { Key: "path/to:key=1+2-3_4.5@x", Value: "v = a+b / c:d @ e_f.g" },
    ];
    await lean.send(new PutObjectTaggingCommand({ Bucket: bucket, Key, Tagging: { TagSet } }));
    expect((await sdk.send(new GetObjectTaggingCommand({ Bucket: bucket, Key }))).TagSet).toEqual(TagSet);
    expect((await lean.send(new GetObjectTaggingCommand({ Bucket: bucket, Key }))).TagSet).toEqual(TagSet);
    const deleted = await outcome(lean, new DeleteObjectCommand({ Bucket: bucket, Key }));
    expect(deleted).toEqual(await outcome(sdk, new DeleteObjectCommand({ Bucket: bucket, Key })));
    expect(await outcome(lean, new HeadObjectCommand({ Bucket: bucket, Key }))).toMatchObject({
      ok: false,
      status: 404,
    });
  });

  it("fails absent keys and buckets, and locking calls on an unlocked bucket, with the SDK's errors", async () => {
    const absent = [
      { Bucket: bucket, Key: "no/such/key" },
      { Bucket: `${bucket}-absent`, Key: "k" },
    ];
    for (const object of absent)
      for (const command of [
        new HeadObjectCommand(object),
        new GetObjectTaggingCommand(object),
        new PutObjectTaggingCommand({ ...object, Tagging: { TagSet: [] } }),
        new DeleteObjectTaggingCommand(object),
        new DeleteObjectCommand(object),
      ])
        expectSame(
          await outcome(lean, command),
          await outcome(sdk, command),
          `${command.constructor.name} ${object.Bucket}/${object.Key}`,
        );
    const object = { Bucket: bucket, Key: "plain.txt" };
    for (const command of [
      new PutObjectRetentionCommand({
        ...object,
        Retention: { Mode: "GOVERNANCE", RetainUntilDate: new Date(Date.now() + 86_400_000) },
      }),
      new PutObjectLegalHoldCommand({ ...object, LegalHold: { Status: "ON" } }),
    ])
      expectSame(await outcome(lean, command), await outcome(sdk, command), command.constructor.name);
  });
});

describe("the lean path on a gateway that throttles", () => {
  it("retries as the SDK does and fails with the same SlowDown, telling its adaptive limit", async () => {
    const proxy = await startFaultProxy(emulators.gatewayA);
    cleanups.push(() => proxy.close());
    const { sdk, lean, adaptive } = clients(proxy.url);
    cleanups.push(
      () => sdk.destroy(),
      () => lean.destroy(),
    );
    proxy.slowDownRate = 1;
    const command = new HeadObjectCommand({ Bucket: "any", Key: "k" });
    const before = proxy.stats.slowDowns;
    const viaSdk = await outcome(sdk, command);
    const sdkTries = proxy.stats.slowDowns - before;
    const viaLean = await outcome(lean, command);
    expect(viaLean).toEqual(viaSdk);
    expect(viaLean).toMatchObject({ ok: false, status: 503 });
    expect(proxy.stats.slowDowns - before - sdkTries).toBe(sdkTries);
    expect(adaptive.seen.throttled).toBe(sdkTries);
  });
});
