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
// delivers them (its Step: notificationStep below): at least once, in order, retried with the retry
// policy's back-off while the target answers 5xx or is down, each try bounded, so a target never
// slows or fails the job. The poll chain keeps going
// while events wait, after the job ended too; an event undelivered after MAX_TRIES is given up.
// Every failed try is in the job's event log. The secret is only ever in the settings.
import type { Context } from "../context.ts";
import { ConflictError, S3BatchError } from "../errors.ts";
import { type JobRecord, NOTIFIED_STATUSES, type StatusEvent } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { jobEvent } from "../jobs/store.ts";
import { type LeaseFields, leaseAcquire, newAttempt } from "../leases/lease.ts";
import { reportKeys } from "../report/layout.ts";
import { notifyRetryDelayMs } from "../retry/policy.ts";
import { leaseMsOf, type Step, verdictOf } from "../steps/step.ts";
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

/** The target answered, but not with a delivery (a non-2xx status, too many redirects). */
class TargetAnswerError extends S3BatchError {}

/** Tries of one event before it is given up (with the delays capped, about an hour). */
const MAX_TRIES = 60;
const TRY_TIMEOUT_MS = 3_000;
/** Events delivered per poll at most. */
const PER_POLL = 10;
/** Redirects (307 and 308 only: they keep the POST) followed at most. */
const MAX_REDIRECTS = 3;

interface Outbox extends LeaseFields {
  /** Events of the job's history (those notified) delivered or given up, in order. */
  sent: number;
  tries: number;
  /** No try before then (epoch ms on the store's clock). */
  nextAt: number;
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
  job.history.flatMap((event, index) => (NOTIFIED_STATUSES.includes(event.status) ? [{ event, index }] : []));

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
    if (!redirect || !answer.location) throw new TargetAnswerError(`HTTP ${answer.status}`);
    if (hop >= MAX_REDIRECTS) throw new TargetAnswerError(`more than ${MAX_REDIRECTS} redirects`);
    // Every hop is a target of its own: parsed, allowed, resolved and checked again.
    const next = parseTarget(new URL(answer.location, url).href, ctx.settings.notify);
    if (next.kind !== "webhook") throw new TargetRefusedError(`${NOTIFY_TAG} redirects to an SQS queue`);
    url = next.url;
  }
}

/**
 * The notification's Step (steps/step.ts). Its document is the outbox, its lease the one a poll
 * holds while it delivers (two polls never send the same event; a crash may, so: at least once).
 * It is settled once every notified event of the job's history is sent or given up. It is driven
 * by every poll of the job, not by a message of its own: no grace, and nothing to send. An event
 * is given up after MAX_TRIES failed tries (notification-abandoned), or, when deliveries kept dying
 * while holding the lease (`maxAttempts` takes in a row), as a poison event.
 */
export const notificationStep: Step<JobRecord, Outbox> = {
  name: "notification",
  failureCode: "NotificationAbandoned",
  key: (job) => paths.notifyOutbox(job),
  initial: () => ({ sent: 0, tries: 0, nextAt: 0, attempts: 0, stalled: 0 }),
  settled: (box, job) => box.sent >= notifiedEvents(job).length,
  graceMs: () => 0,
  send: async () => {},
  giveUp: async (deps, job, doc, why) => {
    const index = notifiedEvents(job)[doc.value.sent]?.index;
    const moved = await deps.store.replaceIfUnchanged<Outbox>(
      paths.notifyOutbox(job),
      { ...doc.value, sent: doc.value.sent + 1, tries: 0, nextAt: 0, stalled: 0 },
      doc.etag,
    );
    if (!moved) return;
    const detail = { event: `${job.jobId}-${index}`, takes: why.kind === "exhausted" ? why.takes : 0 };
    deps.log.warn("notification abandoned", { jobId: job.jobId, ...detail });
    await jobEvent(deps.store, job, "notification-abandoned", {
      ...detail,
      message: "its deliveries kept dying",
    });
  },
};

/**
 * Delivers what the job's outbox holds and is due. Answers whether events still wait (the poll
 * chain then keeps going).
 */
export async function notifyStep(ctx: Deps, job: JobRecord): Promise<boolean> {
  const target = targetOf(job, ctx.settings);
  if (!target) return false;
  const events = notifiedEvents(job);
  const key = notificationStep.key(job);
  const doc = await ctx.store.get<Outbox>(key);
  if (doc) {
    const verdict = verdictOf(notificationStep, ctx, job, doc);
    if (verdict === "settled") return false;
    if (verdict === "live" || ctx.store.serverNow() < doc.value.nextAt) return true;
    if (verdict === "give-up") {
      await notificationStep.giveUp(ctx, job, doc, { kind: "exhausted", takes: doc.value.stalled });
      return true;
    }
  } else if (events.length === 0) return false;
  const acquired = await leaseAcquire<Outbox>(ctx.store, key, newAttempt(), {
    initial: () => notificationStep.initial(job),
    finished: (box) => notificationStep.settled(box, job),
    leaseMs: leaseMsOf(ctx),
    log: ctx.log,
  });
  if (acquired?.kind !== "held") return acquired?.kind === "busy";
  const { lease } = acquired;
  lease.beat();
  try {
    for (let n = 0; n < PER_POLL && lease.value.sent < events.length; n++) {
      const next = events[lease.value.sent];
      if (!next) break;
      const event = stateChangeEvent(job, next.event, next.index, ctx.settings.control.region);
      const failure = await tryDeliver(ctx, job, target, event);
      if (!failure) {
        await lease.update((b) => ({ ...b, sent: b.sent + 1, tries: 0, nextAt: 0 }));
        continue;
      }
      const tries = lease.value.tries + 1;
      const abandoned = failure.refused || tries >= MAX_TRIES;
      const detail = {
        event: event.id,
        status: event.detail.status,
        target: shownTarget(target),
        ...(failure.refused ? {} : { tries }),
        message: failure.message,
      };
      const kind = failure.refused
        ? "notification-refused"
        : abandoned
          ? "notification-abandoned"
          : "notification-undelivered";
      ctx.log.warn(kind.replace("-", " "), { jobId: job.jobId, ...detail });
      await jobEvent(ctx.store, job, kind, detail);
      if (abandoned) {
        await lease.update((b) => ({ ...b, sent: b.sent + 1, tries: 0, nextAt: 0 }));
        continue;
      }
      const nextAt = ctx.store.serverNow() + notifyRetryDelayMs(tries, ctx.settings.notify.maxDelaySeconds);
      await lease.update((b) => ({ ...b, tries, nextAt }));
      break;
    }
    // A poll's take that ran to its end is progress, whatever the target said.
    await lease.release((b) => ({ ...b, stalled: 0 }));
  } catch (err) {
    // Another poll took the outbox over meanwhile: it carries on.
    if (!(err instanceof ConflictError)) throw err;
  } finally {
    lease.stop();
  }
  return lease.value.sent < events.length;
}

/** One try at one event: undefined when delivered, else why not (refused: never to be sent). */
async function tryDeliver(
  ctx: Deps,
  job: JobRecord,
  target: string,
  event: ReturnType<typeof stateChangeEvent>,
): Promise<{ refused: boolean; message: string } | undefined> {
  try {
    await deliver(ctx, parseTarget(target, ctx.settings.notify), event.id, JSON.stringify(event));
    return undefined;
  } catch (err) {
    if (err instanceof TargetRefusedError) return { refused: true, message: err.message };
    const e = err as Error & { cause?: { code?: string }; code?: string };
    const message =
      e.name === "TimeoutError" || e.name === "AbortError"
        ? "no answer in 3 s"
        : err instanceof ResolveError
          ? e.message.replace(/^\S+ /, "the host ")
          : (e.code ?? e.cause?.code ?? e.message);
    ctx.log.debug("notification try failed", { jobId: job.jobId, event: event.id });
    return { refused: false, message };
  }
}
