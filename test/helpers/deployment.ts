// The environment of a deployment on the emulators, as a runtime process (Node or Deno) takes it:
// its own queues and internal bucket, the emulated gateways, the test account's API key.
import { randomUUID } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ensureQueues, queueEnv } from "../../lib/provision.ts";
import { type EmulatorUrls, emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { ACCOUNT_ID, TEST_CREDENTIALS, TEST_ROLES } from "./clients.ts";
import { controlEnv, sqsEndpointOf } from "./control-plane.ts";

/** What every deployment on the emulators is given: the control endpoint, the gateways, the API key. */
export function deploymentParameters(emulators: EmulatorUrls): Record<string, string> {
  return {
    ...controlEnv(emulators),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: "1",
    S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
    S3BATCH_API_KEYS: JSON.stringify([{ ...TEST_CREDENTIALS, accountId: ACCOUNT_ID }]),
    S3BATCH_ROLES: TEST_ROLES,
    S3BATCH_LOG_LEVEL: "warn",
  };
}

/** The environment of a deployment on the emulators: its own queues and internal bucket. */
export async function deploymentEnv(
  emulators: EmulatorUrls,
  port: number,
  extra: Record<string, string> = {},
  /** Names its queues (`<name>-<id>-…`) and internal bucket (`s3batch-<name>-<id>`). */
  name = "kill",
): Promise<Record<string, string>> {
  const id = randomUUID().slice(0, 8);
  // The observer in this process reaches the control endpoint through the default chain too.
  process.env.AWS_ACCESS_KEY_ID ??= TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= TEST_CREDENTIALS.secretAccessKey;
  const sqs = new SQSClient({
    region: "us-east-1",
    endpoint: sqsEndpointOf(emulators),
    credentials: TEST_CREDENTIALS,
  });
  const queues = queueEnv(await ensureQueues(sqs, `${name}-${id}`));
  sqs.destroy();
  return {
    ...deploymentParameters(emulators),
    S3BATCH_INTERNAL_BUCKET: `s3batch-${name}-${id}`,
    S3BATCH_PORT: String(port),
    S3BATCH_POLL_DELAY_SECONDS: "1",
    ...queues,
    ...extra,
  };
}
