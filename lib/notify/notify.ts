// Job state notifications: where a job says (its `s3batch:notify` tag) or the deployment says
// (S3BATCH_NOTIFY_URL), every status change to Suspended, Active, Complete, Failed or Cancelled is
// sent as an event shaped like EventBridge's S3 Batch Operations job state change:
//   - to a webhook (http or https): a JSON POST, its body signed with HMAC-SHA256 under
//     S3BATCH_NOTIFY_SECRET: x-s3batch-signature: v1=<hex of HMAC(secret, "<timestamp>.<body>")>,
//     with x-s3batch-timestamp and x-s3batch-event-id (the idempotency key) beside it;
//   - to an SQS queue the operator configured (S3BATCH_NOTIFY_QUEUES): one message per event.
// Targets are checked by notify/targets.ts (no loopback, private or metadata address, as given,
// after DNS and on redirects; the allow-list compares parsed URLs); a refused target is an event
// in the job's log, and logs and events show its scheme, host and port only.
// The events are the job record's own history, written in the same write as each change, so no
// crash loses one; this outbox only remembers how many were delivered (`notify.json`). Poll
// delivers them: at least once, in order, retried with back-off while the target answers 5xx or is
// down, each try bounded, so a target never slows or fails the job. The poll chain keeps going
// while events wait, after the job ended too; an event undelivered after MAX_TRIES is given up.
// Every failed try is in the job's event log. The secret is only ever in the settings.
import type { Context } from "../context.ts";
import { ConflictError } from "../errors.ts";
import type { JobRecord, JobStatus, StatusEvent } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { jobEvent } from "../jobs/store.ts";
import { reportKeys } from "../report/layout.ts";
import { pinnedPost, ResolveError, resolveAll } from "../util/pinned-http.ts";
import {
  checkResolved,
  NOTIFY_TAG,
  parseTarget,
  shownTarget,
  type Target,
  type TargetPolicy,
  TargetRefusedError,
} from "./targets.ts";

export { NOTIFY_TAG };

const NOTIFIED: readonly JobStatus[] = ["Suspended", "Active", "Complete", "Failed", "Cancelled"];
/** Tries of one event before it is given up (with the delays capped, about an hour). */
const MAX_TRIES = 60;
const TRY_TIMEOUT_MS = 3_000;
/** Events delivered per poll at most. */
const PER_POLL = 10;
/** Redirects (307 and 308 only: they keep the POST) followed at most. */
const MAX_REDIRECTS = 3;

interface Outbox {
  /** Events of the job's history (those notified) delivered or given up, in order. */
  sent: number;
  tries: number;
  /** No try before then (epoch ms). */
  nextAt: number;
  /** A poll is delivering the next event until then: other polls leave it alone. */
  claimedUntil?: number;
}

type Deps = Pick<Context, "store" | "queue" | "settings" | "log">;

/** A notification target as a job names it (CreateJob, PutJobTagging): refused unless it may be sent to. */
export function checkTarget(url: string, policy: TargetPolicy): void {
  parseTarget(url, policy);
}

export function targetOf(job: JobRecord, settings: Deps["settings"]): string | undefined {
  if (job.surveyOf) return undefined; // a survey's own steps are its job's business
  return job.tags.find((t) => t.Key === NOTIFY_TAG)?.Value ?? settings.notify.url;
}

const notifiedEvents = (job: JobRecord): { event: StatusEvent; index: number }[] =>
  job.history.flatMap((event, index) => (NOTIFIED.includes(event.status) ? [{ event, index }] : []));

/** The event, shaped like EventBridge's. */
export function stateChangeEvent(job: JobRecord, event: StatusEvent, index: number, region: string) {
  const report = job.request.Report;
  const jobArn = `arn:aws:s3:${region}:${job.accountId}:job/${job.jobId}`;
  const previous = job.history[index - 1]?.status;
  return {
    version: "0",
    id: `${job.jobId}-${index}`,
    "detail-type": "S3 Batch Operations Job State Change",
    source: "s3batch",
    account: job.accountId,
    time: event.at,
    region,
    resources: [jobArn],
    detail: {
      jobId: job.jobId,
      jobArn,
      status: event.status,
      ...(previous ? { previousStatus: previous } : {}),
      ...(event.statusUpdateReason ? { statusChangeReason: event.statusUpdateReason } : {}),
      failureReasons: event.failureReasons ?? [],
      priority: job.priority,
      ...(job.request.Description ? { description: job.request.Description } : {}),
      progressSummary: {
        TotalNumberOfTasks: job.progress.total,
        NumberOfTasksSucceeded: job.progress.succeeded,
        NumberOfTasksFailed: job.progress.failed,
      },
      report:
        report.Enabled && report.Bucket
          ? {
              bucket: report.Bucket,
              manifest: reportKeys(report.Prefix, job.jobId).manifest,
              scope: report.ReportScope ?? "AllTasks",
            }
          : null,
    },
  };
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One try; throws with a message fit for the event log (TargetRefusedError: never to be sent). */
async function deliver(ctx: Deps, target: Target, id: string, body: string): Promise<void> {
  const signal = AbortSignal.timeout(TRY_TIMEOUT_MS);
  if (target.kind === "queue") {
    await ctx.queue.sendNotification(target.url, body, id, signal);
    return;
  }
  const timestamp = String(Math.floor(Date.now() / 1000));
  const secret = ctx.settings.notify.secret;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(new TextEncoder().encode(body).length),
    "x-s3batch-event-id": id,
    "x-s3batch-timestamp": timestamp,
    ...(secret ? { "x-s3batch-signature": `v1=${await hmacHex(secret, `${timestamp}.${body}`)}` } : {}),
  };
  let url = target.url;
  for (let hop = 0; ; hop++) {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const addresses = await resolveAll(host);
    checkResolved(url, addresses, ctx.settings.notify);
    const answer = await pinnedPost(url, addresses, headers, body, signal);
    if (answer.status >= 200 && answer.status <= 299) return;
    const redirect = answer.status === 307 || answer.status === 308;
    if (!redirect || !answer.location) throw new Error(`HTTP ${answer.status}`);
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    // Every hop is a target of its own: parsed, allowed, resolved and checked again.
    const next = parseTarget(new URL(answer.location, url).href, ctx.settings.notify);
    if (next.kind !== "webhook") throw new TargetRefusedError(`${NOTIFY_TAG} redirects to an SQS queue`);
    url = next.url;
  }
}

/** The retry delay after `tries` failed tries: doubling from 1 s, capped by the setting. */
const delayMs = (tries: number, capSeconds: number) => Math.min(capSeconds * 1000, 1000 * 2 ** (tries - 1));

/**
 * Delivers what the job's outbox holds and is due. Answers whether events still wait (the poll
 * chain then keeps going).
 */
export async function notifyStep(ctx: Deps, job: JobRecord): Promise<boolean> {
  const target = targetOf(job, ctx.settings);
  if (!target) return false;
  const events = notifiedEvents(job);
  const key = paths.notifyOutbox(job);
  let doc = await ctx.store.get<Outbox>(key);
  if ((doc?.value.sent ?? 0) >= events.length) return false;
  doc ??= await ctx.store.createOrGet<Outbox>(key, { sent: 0, tries: 0, nextAt: 0 });
  let box = doc.value;
  let etag = doc.etag;
  const save = async (next: Outbox) => {
    etag = await ctx.store.replace(key, next, etag);
    box = next;
  };
  try {
    for (let n = 0; n < PER_POLL && box.sent < events.length; n++) {
      const now = Date.now();
      if (now < box.nextAt || now < (box.claimedUntil ?? 0)) break;
      const next = events[box.sent];
      if (!next) break;
      // Claimed first, so two polls at once do not both send it (a crash may still: at least once).
      await save({ ...box, claimedUntil: now + TRY_TIMEOUT_MS + 2_000 });
      const event = stateChangeEvent(job, next.event, next.index, ctx.settings.control.region);
      try {
        await deliver(ctx, parseTarget(target, ctx.settings.notify), event.id, JSON.stringify(event));
        await save({ sent: box.sent + 1, tries: 0, nextAt: 0 });
      } catch (err) {
        if (err instanceof ConflictError) throw err;
        if (err instanceof TargetRefusedError) {
          // Never sent, and never will be: the event is given up at once, saying why.
          const detail = { event: event.id, status: event.detail.status, target: shownTarget(target) };
          ctx.log.warn("notification refused", { jobId: job.jobId, ...detail, message: err.message });
          await jobEvent(ctx.store, job, "notification-refused", { ...detail, message: err.message });
          await save({ sent: box.sent + 1, tries: 0, nextAt: 0 });
          continue;
        }
        const tries = box.tries + 1;
        const e = err as Error & { cause?: { code?: string }; code?: string };
        const message =
          e.name === "TimeoutError" || e.name === "AbortError"
            ? "no answer in 3 s"
            : err instanceof ResolveError
              ? e.message.replace(/^\S+ /, "the host ")
              : (e.code ?? e.cause?.code ?? e.message);
        const detail = {
          event: event.id,
          status: event.detail.status,
          target: shownTarget(target),
          tries,
          message,
        };
        ctx.log.warn("notification undelivered", { jobId: job.jobId, ...detail });
        await jobEvent(
          ctx.store,
          job,
          tries >= MAX_TRIES ? "notification-abandoned" : "notification-undelivered",
          detail,
        );
        await save(
          tries >= MAX_TRIES
            ? { sent: box.sent + 1, tries: 0, nextAt: 0 }
            : {
                sent: box.sent,
                tries,
                nextAt: Date.now() + delayMs(tries, ctx.settings.notify.maxDelaySeconds),
              },
        );
        break;
      }
    }
  } catch (err) {
    // Another poll moved the outbox on meanwhile: it carries on.
    if (!(err instanceof ConflictError)) throw err;
  }
  return box.sent < events.length;
}
