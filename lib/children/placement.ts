// Which rows of a shard a child runs. A row whose bucket this endpoint does not hold is not its
// row. Operations that change the object in place run on every endpoint holding it; copy,
// checksum, Lambda invoke and replicate run once, on the first endpoint (configured order) that
// holds the object, so a child on endpoint k first asks endpoints 1..k-1 whether they hold it.
// Only a 404 there counts as "not there": an endpoint that errors keeps the task, and its own
// child reports what happens, so no task runs twice. The question is asked under the retry
// policy: an endpoint that is throttling or away is waited for, within the outage window.
import type { EndpointClients } from "../endpoints/clients.ts";
import type { Routing } from "../endpoints/routing.ts";
import type { TaskRow } from "../manifest/rows.ts";
import { type Operation, objectPresent } from "../operations/types.ts";
import { withEndpointRetry } from "../retry/endpoint-call.ts";

/** Whether this endpoint runs the row's task. */
export function placementOf(
  op: Pick<Operation, "placement">,
  routing: Routing,
  endpointId: string,
  gateways: EndpointClients,
): (row: TaskRow) => Promise<boolean> {
  return async (row) => {
    const holders = routing[row.bucket] ?? [];
    const at = holders.indexOf(endpointId);
    if (at === -1) return false;
    if (op.placement === "first")
      for (const id of holders.slice(0, at)) {
        const gw = gateways.get(id);
        const there = await gw
          .limit(() => withEndpointRetry(gw.availability, () => objectPresent(gw.s3, row)))
          .catch(() => true);
        if (there) return false;
      }
    return true;
  };
}

/** Whether a row found absent here is certainly absent everywhere: its bucket lives only here. */
export const soleHolder = (routing: Routing, endpointId: string, bucket: string) =>
  routing[bucket]?.length === 1 && routing[bucket][0] === endpointId;
