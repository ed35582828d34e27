// The poll chain: from CreateJob until the job ends, a delayed poll message that sends its own
// successor, so the reconciler looks at the job every few seconds. One chain per job: poll.json
// holds the current link's token. A chained message whose token (or predecessor's token) is the
// current one carries on; any other copy (a redelivery, a second chain from a restart) ends
// there. A chain that went quiet (its message dead-lettered, say) is revived by the next poll
// of any kind, and a job waiting in Suspended lets its chain stop until it is confirmed.
import type { Context } from "../context.ts";
import type { JobStatus } from "../jobs/model.ts";
import { TERMINAL_STATUSES } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { newAttempt } from "../leases/lease.ts";
import type { PollMessage } from "../steps/messages.ts";

interface ChainDoc {
  token: string;
}

/** Statuses in which the chain stops: nothing happens until someone acts. */
const QUIET: readonly JobStatus[] = [...TERMINAL_STATUSES, "Suspended"];

/** Sends the chain's next link when `msg` is (or may take over as) the current one. */
export async function chainStep(
  ctx: Pick<Context, "store" | "queue" | "settings">,
  msg: PollMessage,
  status: JobStatus,
  /** Notifications wait for their target: the chain goes on whatever the status. */
  notificationsWaiting = false,
): Promise<void> {
  const key = paths.pollChain(msg);
  const doc = await ctx.store.get<ChainDoc>(key);
  const delay = ctx.settings.pollDelaySeconds;
  const staleMs = 3_000 * (delay + ctx.settings.leaseSeconds);
  const stale = !doc || doc.ageMs > staleMs;
  const current =
    doc !== undefined && msg.chain && (doc.value.token === msg.token || doc.value.token === msg.prev);
  if (QUIET.includes(status) && !notificationsWaiting) {
    if (doc && (current || stale)) await ctx.store.delete(key);
    return;
  }
  if (!current && !stale) return; // another chain is alive: this copy ends here
  const token = newAttempt();
  const prev = msg.chain ? msg.token : doc?.value.token;
  await ctx.queue.send(
    {
      v: 1,
      type: "poll",
      accountId: msg.accountId,
      jobId: msg.jobId,
      chain: true,
      token,
      ...(prev ? { prev } : {}),
    },
    delay,
  );
  await ctx.store.putBytes(key, JSON.stringify({ token } satisfies ChainDoc), "application/json");
}
