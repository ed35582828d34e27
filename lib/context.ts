// Everything a handler needs, built once per process from settings: the job store on the
// control endpoint, the pipeline queues, and the gateway client pool.
import { SQSClient } from "@aws-sdk/client-sqs";
import { createS3Client, EndpointClients } from "./endpoints/clients.ts";
import { PipelineQueue } from "./queue/sqs-queue.ts";
import { CONTROL_SDK_RETRY } from "./retry/policy.ts";
import type { Settings } from "./settings.ts";
import { JsonStore } from "./store/json-store.ts";
import { createLogger, type Logger } from "./util/logger.ts";

export interface Context {
  settings: Settings;
  store: JsonStore;
  queue: PipelineQueue;
  gateways: EndpointClients;
  log: Logger;
}

/** Builds the context; `component` names the function in its log lines. */
export function createContext(settings: Settings, component: string): Context {
  const { endpoint, region } = settings.control;
  const controlS3 = createS3Client({
    ...(endpoint ? { endpoint } : {}),
    region,
    forcePathStyle: Boolean(endpoint),
    maxSockets: 64,
    retry: CONTROL_SDK_RETRY,
  });
  const sqs = new SQSClient({ region, ...(endpoint ? { endpoint } : {}), ...CONTROL_SDK_RETRY });
  return {
    settings,
    store: new JsonStore(controlS3, settings.internalBucket),
    queue: new PipelineQueue(sqs, settings.queues),
    gateways: new EndpointClients(settings.endpoints, settings.outageWindowSeconds * 1000),
    log: createLogger(component, settings.logLevel),
  };
}
