// S3 clients: one client per endpoint, the SDK's retries as retry/policy.ts sets them, and the
// endpoint's availability as this process sees it. A limiter per endpoint caps in-flight
// operations across all the children that one process runs. The HTTP handler comes from the
// runtime adapter (the Node runtime pools keep-alive sockets, capped at the endpoint's
// concurrency); without one, the SDK's own default for the runtime is used.

import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import pLimit, { type LimitFunction } from "p-limit";
import { ConfigError } from "../errors.ts";
import { EndpointAvailability } from "../retry/availability.ts";
import { gatewaySdkRetry } from "../retry/policy.ts";
import type { JsonStore } from "../store/json-store.ts";
import type { Logger } from "../util/logger.ts";
import { AdaptiveLimit, observeAttempts } from "./adaptive.ts";
import { SharedBudget } from "./budget.ts";
import type { Credentials, Endpoint } from "./config.ts";
import { installLeanPath } from "./lean-s3.ts";

export interface S3ClientOptions {
  endpoint?: string;
  region: string;
  credentials?: Credentials;
  forcePathStyle?: boolean;
  maxSockets: number;
  /** The SDK's retry settings (retry/policy.ts). */
  retry: Pick<S3ClientConfig, "maxAttempts" | "retryMode" | "retryStrategy">;
  httpHandler?: HttpHandlerFactory;
}

/** Makes the runtime's HTTP handler for a client with `maxSockets` requests in flight. */
export type HttpHandlerFactory = (maxSockets: number) => S3ClientConfig["requestHandler"];

/** An S3 client; its HTTP handler is the adapter's, or the SDK's default with timeouts set. */
export function createS3Client(o: S3ClientOptions): S3Client {
  return new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    forcePathStyle: o.forcePathStyle ?? false,
    ...o.retry,
    requestHandler: o.httpHandler
      ? o.httpHandler(o.maxSockets)
      : { connectionTimeout: 5_000, requestTimeout: 0, socketTimeout: 120_000 },
    // Only checksum when an operation requires it: several S3-compatible gateways reject or
    // mishandle the newer default CRC32 trailers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export interface EndpointClient {
  endpoint: Endpoint;
  s3: S3Client;
  /** This process's tasks on the endpoint: as many at once as `adaptive` allows now. */
  limit: LimitFunction;
  /** The in-flight limit the endpoint's answers have shown it takes (adaptive.ts). */
  adaptive: AdaptiveLimit;
  availability: EndpointAvailability;
}

/** The client pool: one pooled client and one limiter per configured endpoint, in configured order. */
export class EndpointClients {
  readonly byId = new Map<string, EndpointClient>();

  readonly budgets: SharedBudget[] = [];

  constructor(
    readonly endpoints: Endpoint[],
    outageWindowMs = 15 * 60_000,
    httpHandler?: HttpHandlerFactory,
    /** Where the deployment-wide budgets live; without it each process keeps its own limit only. */
    shared?: { store: JsonStore; holder: string; leaseMs: number; log: Logger },
    /** Per-object calls through the lean request path (lean-s3.ts) rather than the SDK's stack. */
    o: { lean?: boolean } = {},
  ) {
    for (const endpoint of endpoints) {
      const adaptive = new AdaptiveLimit({
        floor: Math.min(2, endpoint.maxConcurrency),
        ceiling: endpoint.maxConcurrency,
      });
      const limit = pLimit(adaptive.limit);
      adaptive.onChange((n) => {
        limit.concurrency = n;
      });
      this.byId.set(endpoint.id, {
        endpoint,
        adaptive,
        s3: createS3Client({
          endpoint: endpoint.url,
          region: endpoint.region,
          ...(endpoint.credentials ? { credentials: endpoint.credentials } : {}),
          forcePathStyle: endpoint.forcePathStyle,
          maxSockets: endpoint.maxConcurrency,
          retry: gatewaySdkRetry(),
          ...(httpHandler ? { httpHandler } : {}),
        }),
        limit,
        availability: new EndpointAvailability(endpoint.id, outageWindowMs),
      });
      if (shared) {
        const budget = new SharedBudget(
          shared.store,
          endpoint.id,
          endpoint.maxConcurrency,
          shared.holder,
          shared.leaseMs,
          shared.log,
          () => adaptive.limit,
        );
        budget.install(this.get(endpoint.id).s3);
        this.budgets.push(budget);
      }
      // Inside the budget's slot: the latency measured is the gateway's, not the wait for a slot.
      observeAttempts(this.get(endpoint.id).s3, adaptive);
      if (o.lean)
        installLeanPath(this.get(endpoint.id).s3, endpoint, {
          adaptive,
          ...(shared ? { budget: this.budgets.at(-1) as SharedBudget } : {}),
        });
    }
  }

  get(id: string): EndpointClient {
    const c = this.byId.get(id);
    if (!c) throw new ConfigError(`endpoint ${id} is not configured`);
    return c;
  }

  all(): EndpointClient[] {
    return [...this.byId.values()];
  }

  destroy(): void {
    for (const b of this.budgets) b.stop();
    for (const c of this.byId.values()) c.s3.destroy();
  }
}
