// S3 clients with long-lived pooled connections: one client per endpoint, keep-alive sockets
// capped at the endpoint's concurrency, the SDK's retries as retry/policy.ts sets them, and the
// endpoint's availability as this process sees it. A limiter per endpoint caps in-flight
// operations across all the children that one process runs.
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import pLimit, { type LimitFunction } from "p-limit";
import { gatewaySdkRetry } from "../retry/policy.ts";
import { EndpointAvailability } from "./availability.ts";
import type { Credentials, Endpoint } from "./config.ts";

export interface S3ClientOptions {
  endpoint?: string;
  region: string;
  credentials?: Credentials;
  forcePathStyle?: boolean;
  maxSockets: number;
  /** The SDK's retry settings (retry/policy.ts). */
  retry: Pick<S3ClientConfig, "maxAttempts" | "retryMode" | "retryStrategy">;
}

/** A keep-alive S3 client. */
export function createS3Client(o: S3ClientOptions): S3Client {
  const agent = { keepAlive: true, maxSockets: o.maxSockets };
  return new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    forcePathStyle: o.forcePathStyle ?? false,
    ...o.retry,
    requestHandler: new NodeHttpHandler({
      httpAgent: agent,
      httpsAgent: agent,
      connectionTimeout: 5_000,
      // A request that stops moving for this long is dropped: an unavailability, retried.
      socketTimeout: 120_000,
    }),
    // Only checksum when an operation requires it: several S3-compatible gateways reject or
    // mishandle the newer default CRC32 trailers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export interface EndpointClient {
  endpoint: Endpoint;
  s3: S3Client;
  limit: LimitFunction;
  availability: EndpointAvailability;
}

/** The client pool: one pooled client and one limiter per configured endpoint, in configured order. */
export class EndpointClients {
  readonly byId = new Map<string, EndpointClient>();

  constructor(
    readonly endpoints: Endpoint[],
    outageWindowMs = 15 * 60_000,
  ) {
    for (const endpoint of endpoints) {
      this.byId.set(endpoint.id, {
        endpoint,
        s3: createS3Client({
          endpoint: endpoint.url,
          region: endpoint.region,
          ...(endpoint.credentials ? { credentials: endpoint.credentials } : {}),
          forcePathStyle: endpoint.forcePathStyle,
          maxSockets: endpoint.maxConcurrency,
          retry: gatewaySdkRetry(),
        }),
        limit: pLimit(endpoint.maxConcurrency),
        availability: new EndpointAvailability(endpoint.id, outageWindowMs),
      });
    }
  }

  get(id: string): EndpointClient {
    const c = this.byId.get(id);
    if (!c) throw new Error(`endpoint ${id} is not configured`);
    return c;
  }

  all(): EndpointClient[] {
    return [...this.byId.values()];
  }

  destroy(): void {
    for (const c of this.byId.values()) c.s3.destroy();
  }
}
