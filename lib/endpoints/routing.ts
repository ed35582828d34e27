// Bucket routing: a bucket lives on the endpoints whose HeadBucket answers 200. Resolved once
// at dispatch and frozen into the job's plan, in configured endpoint order.
import { HeadBucketCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { RetryableError } from "../errors.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";
import type { EndpointClients } from "./clients.ts";

export type Routing = Record<string, string[]>;

/**
 * For each bucket, the ids of the endpoints that hold it (possibly none), among those `usable`
 * says a job may use (its role may be limited to some gateways).
 */
export async function routeBuckets(
  gateways: EndpointClients,
  buckets: Iterable<string>,
  usable: (endpointId: string) => boolean = () => true,
): Promise<Routing> {
  const routing: Routing = {};
  const names = [...buckets];
  await Promise.all(
    names.map(async (bucket) => {
      const held = await Promise.all(
        gateways
          .all()
          .filter((gw) => usable(gw.endpoint.id))
          .map(async (gw) => ((await holds(gw, bucket)) ? gw.endpoint.id : "")),
      );
      routing[bucket] = held.filter(Boolean);
    }),
  );
  return routing;
}

async function holds(gw: ReturnType<EndpointClients["get"]>, bucket: string): Promise<boolean> {
  try {
    await gw.limit(() =>
      withEndpointRetry(gw.availability, () => gw.s3.send(new HeadBucketCommand({ Bucket: bucket }))),
    );
    return true;
  } catch (err) {
    const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
    // 404: not here. 403: here for someone else, so not usable with these credentials.
    if (status === 404 || status === 403 || status === 301 || status === 400) return false;
    throw new RetryableError(`routing bucket ${bucket} on ${gw.endpoint.id} failed`, { cause: err });
  }
}
