// Where a test's or bench's control plane lives: LocalStack (the default), or on-prem real parts
// (ElasticMQ for the queues, Ceph RGW for the internal bucket) when S3BATCH_CONTROL_PLANE=onprem.
// The same tests and benches run on both, for figures side by side (docs/benchmarks.md).
import type { EmulatorUrls } from "../../runtime/common/emulated.ts";
import { startCeph, startElasticMq, stopCeph, stopElasticMq } from "../../runtime/local/gateways.ts";

/** The environment that points a deployment's control plane at `urls`'. */
export function controlEnv(
  urls: Pick<EmulatorUrls, "control" | "controlSqs" | "controlS3">,
): Record<string, string> {
  if (urls.controlSqs && urls.controlS3)
    return { AWS_ENDPOINT_URL_SQS: urls.controlSqs, AWS_ENDPOINT_URL_S3: urls.controlS3 };
  return { AWS_ENDPOINT_URL: urls.control };
}

/** The queues' endpoint. */
export const sqsEndpointOf = (urls: Pick<EmulatorUrls, "control" | "controlSqs">) =>
  urls.controlSqs ?? urls.control;

export const ONPREM_SQS_PORT = 4719;

/**
 * With S3BATCH_CONTROL_PLANE=onprem, starts ElasticMQ and answers the on-prem control plane's
 * URLs, its internal buckets on `rgw` (a Ceph RGW on RADOS that is already running, or started
 * here on `rgwPort`); otherwise nothing.
 */
export function onPremControl(
  env: NodeJS.ProcessEnv,
  rgw: string | undefined,
  rgwPort: number,
): Pick<EmulatorUrls, "controlSqs" | "controlS3"> {
  if (env.S3BATCH_CONTROL_PLANE !== "onprem") return {};
  return {
    controlSqs: startElasticMq(ONPREM_SQS_PORT, env),
    controlS3: rgw ?? startCeph("rados", rgwPort, env),
  };
}

/** Stops the parts `onPremControl(env, undefined, rgwPort)` started (a bench's, at its end). */
export function stopOnPremControl(env: NodeJS.ProcessEnv, rgwPort: number): void {
  if (env.S3BATCH_CONTROL_PLANE !== "onprem") return;
  stopElasticMq(ONPREM_SQS_PORT, env);
  stopCeph("rados", rgwPort, env);
}
