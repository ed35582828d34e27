// Starts the real local runtime in the test process against the shared emulators, with its own
// queues and internal bucket (unique names), so test files never see each other's state.
import { randomUUID } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { inject } from "vitest";
import { ensureQueues, queueEnv } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import { type EmulatorUrls, emulatedEndpoints } from "../../runtime/common/emulated.ts";
import {
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from "../../runtime/local/runtime.ts";
import {
  ACCOUNT_ID,
  gatewayClient,
  OTHER_ACCOUNT_ID,
  OTHER_CREDENTIALS,
  s3ControlClient,
  TEST_CREDENTIALS,
  TEST_ROLES,
} from "./clients.ts";
import { controlEnv, sqsEndpointOf } from "./control-plane.ts";

export interface TestRuntime {
  runtime: LocalRuntime;
  control: ReturnType<typeof s3ControlClient>;
  gatewayA: ReturnType<typeof gatewayClient>;
  gatewayB: ReturnType<typeof gatewayClient>;
  /** The real gateway (Ceph RGW), when this machine runs it. */
  gatewayR?: ReturnType<typeof gatewayClient>;
  stop(): Promise<void>;
}

export async function startTestRuntime(
  extraEnv: Record<string, string> = {},
  {
    childWorkers,
    maxReceiveCount,
    wrap,
    endpoints,
  }: {
    childWorkers?: number;
    maxReceiveCount?: number;
    wrap?: LocalRuntimeOptions["wrap"];
    /** Gateway URLs to use instead of the emulators' own (a proxy in front of one, say). */
    endpoints?: Partial<EmulatorUrls>;
  } = {},
): Promise<TestRuntime> {
  const emulators = inject("emulators");
  const id = randomUUID().slice(0, 8);
  process.env.AWS_ACCESS_KEY_ID ??= TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= TEST_CREDENTIALS.secretAccessKey;
  const sqs = new SQSClient({ region: "us-east-1", endpoint: sqsEndpointOf(emulators) });
  const queues = await ensureQueues(sqs, `t-${id}`, maxReceiveCount ? { maxReceiveCount } : {});
  sqs.destroy();
  const settings = loadSettings({
    ...controlEnv(emulators),
    AWS_REGION: "us-east-1",
    S3BATCH_ENDPOINTS: emulatedEndpoints({ ...emulators, ...endpoints }, TEST_CREDENTIALS),
    S3BATCH_INTERNAL_BUCKET: `s3batch-internal-${id}`,
    ...queueEnv(queues),
    S3BATCH_POLL_DELAY_SECONDS: "1",
    S3BATCH_LOG_LEVEL: "warn",
    S3BATCH_API_KEYS: JSON.stringify([
      { ...TEST_CREDENTIALS, accountId: ACCOUNT_ID },
      { ...OTHER_CREDENTIALS, accountId: OTHER_ACCOUNT_ID },
    ]),
    S3BATCH_ROLES: TEST_ROLES,
    ...extraEnv,
  });
  const runtime = await startLocalRuntime({
    settings,
    port: 0,
    ...(childWorkers ? { childWorkers } : {}),
    ...(wrap ? { wrap } : {}),
  });
  const control = s3ControlClient(runtime.url);
  const gatewayA = gatewayClient(emulators.gatewayA);
  const gatewayB = gatewayClient(emulators.gatewayB);
  const gatewayR = emulators.rgw ? gatewayClient(emulators.rgw) : undefined;
  return {
    runtime,
    control,
    gatewayA,
    gatewayB,
    ...(gatewayR ? { gatewayR } : {}),
    async stop() {
      control.destroy();
      gatewayA.destroy();
      gatewayB.destroy();
      gatewayR?.destroy();
      await runtime.stop();
    },
  };
}
