// SDK clients as users build them. The S3 Control client goes through the SDK's own endpoint
// rules, which put the account ID in front of the host (123456789012.localhost:PORT); a custom
// DNS lookup in its HTTP agent sends *.localhost to loopback, as /etc/hosts would.
import { Agent } from "node:http";
import type { LookupFunction } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { S3ControlClient } from "@aws-sdk/client-s3-control";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export const ACCOUNT_ID = "123456789012";
export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
/** A second account's key, for isolation tests. */
export const OTHER_ACCOUNT_ID = "210987654321";
export const OTHER_CREDENTIALS = { accessKeyId: "AKIDOTHERACCOUNT", secretAccessKey: "other-account-secret" };
/** The role the tests' jobs act as, and the other account's; each allows everything but the internal bucket. */
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT_ID}:role/batch-operations`;
export const OTHER_ROLE_ARN = `arn:aws:iam::${OTHER_ACCOUNT_ID}:role/batch-operations`;
const ALLOW_ALL = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: ["s3:*", "lambda:InvokeFunction"], Resource: "*" }],
};
/** S3BATCH_ROLES of every test deployment that does not bring its own. */
export const TEST_ROLES = JSON.stringify([
  { arn: ROLE_ARN, policy: ALLOW_ALL },
  { arn: OTHER_ROLE_ARN, policy: ALLOW_ALL },
]);

const loopbackLookup: LookupFunction = (hostname, options, callback) => {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
    else callback(null, "127.0.0.1", 4);
    return;
  }
  callback(new Error(`test lookup refuses ${hostname}`), "", 4);
};

const accounts = new WeakMap<S3ControlClient, string>();

/** The account a client made by s3ControlClient acts for. */
export const accountOf = (client: S3ControlClient) => accounts.get(client) ?? ACCOUNT_ID;

export function s3ControlClient(apiUrl: string, credentials = TEST_CREDENTIALS): S3ControlClient {
  const port = new URL(apiUrl).port;
  const client = new S3ControlClient({
    region: "us-east-1",
    endpoint: `http://localhost:${port}`,
    credentials,
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent({ keepAlive: true, lookup: loopbackLookup }),
    }),
  });
  accounts.set(
    client,
    credentials.accessKeyId === OTHER_CREDENTIALS.accessKeyId ? OTHER_ACCOUNT_ID : ACCOUNT_ID,
  );
  return client;
}

export function gatewayClient(url: string): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint: url,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}
