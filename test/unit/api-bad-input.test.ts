// The API answers bad input with an S3 Control XML error and writes nothing. The store and queue
// are the in-memory fakes, so the test sees that no write and no message happened.
import { beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../lib/api/app.ts";
import { Authority } from "../../lib/auth/authorize.ts";
import { parseRoles } from "../../lib/auth/roles.ts";
import { EndpointClients } from "../../lib/endpoints/clients.ts";
import type { Settings } from "../../lib/settings.ts";
import { createLogger } from "../../lib/util/logger.ts";
import { MemoryQueue } from "../fakes/memory-queue.ts";
import { MemoryStore } from "../fakes/memory-store.ts";
import { signedRequest } from "../helpers/signing.ts";

let store = new MemoryStore();
let queue = new MemoryQueue();
const app = createApp({
  get store() {
    return store;
  },
  get queue() {
    return queue;
  },
  log: createLogger("test", "error", () => {}),
  gateways: new EndpointClients([]),
  auth: new Authority(
    parseRoles(
      JSON.stringify([
        {
          arn: "arn:aws:iam::123456789012:role/r",
          policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] },
        },
      ]),
      [],
    ),
    "internal",
  ),
  settings: {
    control: { region: "us-east-1" },
    apiKeys: [{ accessKeyId: "AKTEST", secretAccessKey: "secret", accountId: "123456789012" }],
  } as Settings,
});

const NS = "http://awss3control.amazonaws.com/doc/2018-08-20/";
const valid = (inner: Record<string, string> = {}) => {
  const fields: Record<string, string> = {
    Operation: "<S3InitiateRestoreObject><ExpirationInDays>1</ExpirationInDays></S3InitiateRestoreObject>",
    Report: "<Enabled>false</Enabled>",
    ClientRequestToken: "t-1",
    Manifest:
      "<Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::pool/m.csv</ObjectArn><ETag>abc</ETag></Location>",
    Priority: "10",
    RoleArn: "arn:aws:iam::123456789012:role/r",
    ...inner,
  };
  return `<CreateJobRequest xmlns="${NS}">${Object.entries(fields)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join("")}</CreateJobRequest>`;
};

const post = async (body: string, accountId = "123456789012") =>
  app.request(
    await signedRequest("http://localhost", "/v20180820/jobs", {
      method: "POST",
      body,
      accountId,
      credentials: { accessKeyId: "AKTEST", secretAccessKey: "secret" },
    }),
  );

beforeEach(() => {
  store = new MemoryStore();
  queue = new MemoryQueue();
});

describe("CreateJob bad input", () => {
  it.each([
    ["broken XML", "<CreateJobRequest", "BadRequestException"],
    ["wrong namespace", valid().replace(NS, "urn:other"), "BadRequestException"],
    ["missing RoleArn", valid({ RoleArn: "" }), "InvalidRequestException"],
    ["Priority out of range", valid({ Priority: "2147483648" }), "InvalidRequestException"],
    ["Priority not a number", valid({ Priority: "high" }), "InvalidRequestException"],
    ["Description over 256", valid({ Description: "d".repeat(257) }), "InvalidRequestException"],
    ["unknown operation", valid({ Operation: "<S3DeleteEverything/>" }), "InvalidRequestException"],
    [
      "bad manifest ARN",
      valid({
        Manifest:
          "<Spec><Format>S3BatchOperations_CSV_20180820</Format></Spec><Location><ObjectArn>pool/m.csv</ObjectArn><ETag>a</ETag></Location>",
      }),
      "InvalidRequestException",
    ],
    ["ConfirmationRequired not a boolean", valid({ ConfirmationRequired: "yes" }), "InvalidRequestException"],
    [
      "report prefix with ..",
      valid({
        Report:
          "<Enabled>true</Enabled><Bucket>arn:aws:s3:::pool2</Bucket><Format>Report_CSV_20180820</Format><Prefix>a/../b</Prefix>",
      }),
      "InvalidRequestException",
    ],
    [
      "51 tags",
      valid({ Tags: "<member><Key>k</Key><Value>v</Value></member>".repeat(51) }),
      "TooManyTagsException",
    ],
  ])("%s: 4xx XML error, nothing written", async (_name, body, code) => {
    const res = await post(body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("content-type")).toContain("application/xml");
    expect(await res.text()).toContain(`<Code>${code}</Code>`);
    expect(store.writes).toHaveLength(0);
    expect(queue.waiting()).toHaveLength(0);
  });

  it("refuses a body over the limit with 413", async () => {
    const res = await post(valid({ Description: "d".repeat(300 * 1024) }));
    expect(res.status).toBe(413);
    expect(store.writes).toHaveLength(0);
  });

  it("refuses a request whose x-amz-account-id is not the signing key's account", async () => {
    const res = await post(valid(), "210987654321");
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("<Code>AccessDenied</Code>");
  });
});
