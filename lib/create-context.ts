// Builds the context once per process from settings: the job store on the control endpoint, the
// pipeline queues on SQS (or ElasticMQ), and the gateway client pool.
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { Authority } from "./auth/authorize.ts";
import type { Context } from "./context.ts";
import { createS3Client, EndpointClients, type HttpHandlerFactory } from "./endpoints/clients.ts";
import { PipelineQueue } from "./queue/sqs-queue.ts";
import { CONTROL_SDK_RETRY } from "./retry/policy.ts";
import type { Settings } from "./settings.ts";
import { S3JsonStore } from "./store/json-store.ts";
import { storeName } from "./store/probe.ts";
import { createLogger } from "./util/logger.ts";

/** A context whose queue is the SQS transport (the queue loops of the local runtime read it). */
export type SqsContext = Context & { queue: PipelineQueue };

export interface ContextOptions {
  /** The runtime adapter's HTTP handler (the Node runtime's pooled keep-alive sockets). */
  httpHandler?: HttpHandlerFactory;
}

/** Builds the context; `component` names the function in its log lines. */
export function createContext(settings: Settings, component: string, o: ContextOptions = {}): SqsContext {
  const { endpoint, sqsEndpoint, region } = settings.control;
  const controlS3 = createS3Client({
    ...(endpoint ? { endpoint } : {}),
    region,
    forcePathStyle: Boolean(endpoint),
    maxSockets: 64,
    retry: CONTROL_SDK_RETRY,
    ...(o.httpHandler ? { httpHandler: o.httpHandler } : {}),
  });
  const sqs = new SQSClient({
    region,
    ...(sqsEndpoint ? { endpoint: sqsEndpoint } : {}),
    ...CONTROL_SDK_RETRY,
    ...(o.httpHandler ? { requestHandler: o.httpHandler(64) as SQSClientConfig["requestHandler"] } : {}),
  });
  const store = new S3JsonStore(controlS3, settings.internalBucket);
  const workerId = holderId();
  const log = createLogger(component, settings.logLevel, undefined, { worker: workerId });
  store.log = log;
  return {
    settings,
    store,
    queue: new PipelineQueue(sqs, settings.queues),
    gateways: new EndpointClients(
      settings.endpoints,
      settings.outageWindowSeconds * 1000,
      o.httpHandler,
      {
        store,
        holder: workerId,
        leaseMs: settings.leaseSeconds * 1000,
        log,
      },
      { lean: settings.leanRequests },
    ),
    log,
    auth: new Authority(settings.roles, settings.internalBucket),
    workerId,
  };
}

/** This process's (or Lambda container's) name among the holders of gateway budgets. */
function holderId(): string {
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid;
  return `${pid ?? "p"}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Refuses to go on over a control store that ignores conditional writes (store/probe.ts). */
export function proveControlStore(ctx: Pick<Context, "store" | "settings">): Promise<void> {
  return ctx.store.proveConditionalWrites(storeName(ctx.settings.control.endpoint));
}
