// Bucket routing: a bucket lives on the endpoints whose HeadBucket answers 200. Resolved once
// at dispatch and frozen into the job's plan, in configured endpoint order.
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { RetryableError } from "../errors.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";
import { httpStatusOf } from "../retry/policy.ts";
import type { EndpointClients } from "./clients.ts";

export type Routing = Record<string, string[]>;

/**
 * The answers that mean "not here, for us": 404 (no such bucket or key), 403 (someone else's),
 * 301 (a bucket of another region) and 400 (a name this gateway refuses). Routing, the manifest's
 * lookup and the object routes all read a gateway's answer with this one list.
 */
const NOT_HERE = new Set([404, 403, 301, 400]);
export const notHeldHere = (err: unknown): boolean => NOT_HERE.has(httpStatusOf(err) ?? 0);

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
    if (notHeldHere(err)) return false;
    throw new RetryableError(`routing bucket ${bucket} on ${gw.endpoint.id} failed`, { cause: err });
  }
}
