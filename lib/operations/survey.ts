// The survey (a dry run): a job waiting in Suspended can be surveyed before anyone confirms it.
// The survey is a job of its own, `<jobId>_s`, with the same manifest and the internal
// S3SurveyObject operation: a HeadObject of every row on every endpoint its bucket routes to,
// changing nothing. It runs through the same dispatch, children, checkpoints, leases and merge as
// any job, so it is as crash-safe; its merge sums what the rows found into the surveyed job's
// `survey.json`:
//   - objects found per endpoint, their bytes and storage classes;
//   - objects on several endpoints, missing objects, rows whose bucket no endpoint holds;
//   - for a copy, the bytes that would cross gateways;
//   - for restore (needs an archived storage class) and retention or legal hold (need Object
//     Lock on the bucket), how many tasks would fail, and why.
// A survey informs and never decides: once the job is confirmed its children look every row up
// themselves, so an object written after the survey is acted on.
import { GetObjectLockConfigurationCommand, HeadObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import type { Context } from "../context.ts";
import { capabilitiesKey, capabilityOf, type GatewayCapabilities } from "../endpoints/capabilities.ts";
import { S3ControlError } from "../errors.ts";
import { type JobRecord, newJobRecord } from "../jobs/model.ts";
import { type JobRef, paths } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import { newAttempt } from "../leases/lease.ts";
import type { OperationSpec } from "../s3control/create-job-schema.ts";
import { operationName } from "../s3control/create-job-schema.ts";
import type { JsonStore } from "../store/json-store.ts";
import type { Operation, RowTally, TaskOutcome } from "./types.ts";
import { objectOf, outcomeFromError } from "./types.ts";

export const SURVEY_SUFFIX = "_s";
export const surveyRef = (ref: JobRef): JobRef => ({
  accountId: ref.accountId,
  jobId: `${ref.jobId}${SURVEY_SUFFIX}`,
});

type SurveySpec = NonNullable<OperationSpec["S3SurveyObject"]>;

const ARCHIVED = new Set(["GLACIER", "DEEP_ARCHIVE"]);
const NEEDS_LOCK = new Set(["S3PutObjectRetention", "S3PutObjectLegalHold"]);

/** What the survey saw of one object on one endpoint, as its outcome's message. */
interface Seen {
  size: number;
  storageClass: string;
  /** The error code the job's operation would fail with here. */
  wouldFail?: string;
  /** The job's role may not do the task: the object was not looked at. */
  denied?: boolean;
}
const SEEN_PREFIX = "survey ";
const encodeSeen = (s: Seen) => `${SEEN_PREFIX}${JSON.stringify(s)}`;
export function decodeSeen(message: string | undefined): Seen | undefined {
  if (!message?.startsWith(SEEN_PREFIX)) return undefined;
  try {
    return JSON.parse(message.slice(SEEN_PREFIX.length)) as Seen;
  } catch {
    return undefined;
  }
}

/** A row the surveyed job's role may not touch: it would fail AccessDenied, and is not looked at. */
export const surveyDenied = (): TaskOutcome => ({
  kind: "succeeded",
  message: encodeSeen({ size: 0, storageClass: "", wouldFail: "AccessDenied", denied: true }),
});

/** S3SurveyObject: the HeadObject of the row on this endpoint, and the precondition checks. */
export function surveyOperation(spec: SurveySpec): Operation {
  const locked = new Map<string, Promise<boolean>>();
  return {
    placement: "every",
    // A survey of a copy counts the bytes that would cross gateways: its target is routed too.
    ...(spec.TargetBucket ? { targetBucket: spec.TargetBucket } : {}),
    // Tasks are asked of the role for what the surveyed job would do; a refusal is predicted, not
    // failed; the gateway's capability table predicts what it cannot do.
    prepare: async (ctx, job, endpointId) => {
      const surveyed = job.surveyOf
        ? (await jobGet(ctx.store, { accountId: job.accountId, jobId: job.surveyOf }))?.value
        : undefined;
      const capabilities = (await ctx.store.get<GatewayCapabilities>(capabilitiesKey(endpointId)))?.value;
      return {
        needsOf: (surveyed ?? job).request.Operation,
        refused: surveyDenied,
        ...(capabilities ? { capabilities } : {}),
      };
    },
    tally: (job, routing, saved) => new SurveyTally(job, spec, routing, saved as Survey | undefined),
    run: async ({ s3, capabilities }, row): Promise<TaskOutcome> => {
      // What this gateway lacks, by its probed table: the task would fail with its own code.
      const needed = capabilityOf(spec.Of);
      const lacking = needed ? capabilities?.capabilities[needed] : undefined;
      try {
        const head = await s3.send(new HeadObjectCommand(objectOf(row)));
        const storageClass = head.StorageClass ?? "STANDARD";
        let wouldFail: string | undefined = lacking && !lacking.ok ? lacking.code : undefined;
        if (!wouldFail && spec.Of === "S3InitiateRestoreObject" && !ARCHIVED.has(storageClass))
          wouldFail = "InvalidObjectState";
        if (!wouldFail && NEEDS_LOCK.has(spec.Of)) {
          let lock = locked.get(row.bucket);
          if (!lock) {
            lock = s3
              .send(new GetObjectLockConfigurationCommand({ Bucket: row.bucket }))
              .then((o) => o.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled")
              .catch((err) => {
                if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
                throw err;
              });
            locked.set(row.bucket, lock);
          }
          if (!(await lock)) wouldFail = "InvalidRequest";
        }
        const seen: Seen = {
          size: head.ContentLength ?? 0,
          storageClass,
          ...(wouldFail ? { wouldFail } : {}),
        };
        return { kind: "succeeded", message: encodeSeen(seen) };
      } catch (err) {
        return outcomeFromError(err);
      }
    },
  };
}

export interface EndpointSurvey {
  found: number;
  bytes: number;
  storageClasses: Record<string, number>;
}

export interface Survey {
  status: "running" | "done" | "failed";
  surveyJobId: string;
  rows: number;
  endpoints: Record<string, EndpointSurvey>;
  /** Objects found on more than one endpoint. */
  onSeveralEndpoints: number;
  /** Rows found on no endpoint holding their bucket. */
  missingObjects: number;
  /** Rows whose bucket no endpoint holds. */
  missingBuckets: number;
  /** For a copy: bytes read on one gateway and written to another. */
  crossGatewayBytes?: number;
  /** Tasks the job's operation would fail, by the error code it would fail with. */
  wouldFail: Record<string, number>;
  finishedAt?: string;
}

/** Sums the survey's rows as the merge meets them; once the report is written, survey.json. */
export class SurveyTally implements RowTally {
  private readonly s: Survey;

  constructor(
    private readonly job: Pick<JobRecord, "accountId" | "jobId" | "surveyOf">,
    private readonly spec: SurveySpec,
    private readonly routing: Record<string, string[]>,
    saved?: Survey,
  ) {
    const surveyJobId = job.jobId;
    this.s = saved
      ? structuredClone(saved)
      : {
          status: "running",
          surveyJobId,
          rows: 0,
          endpoints: {},
          onSeveralEndpoints: 0,
          missingObjects: 0,
          missingBuckets: 0,
          ...(spec.TargetBucket ? { crossGatewayBytes: 0 } : {}),
          wouldFail: {},
        };
  }

  /** One row: what each endpoint holding it saw, in routing order. */
  row(bucket: string, seen: { endpointId: string; message: string | undefined }[]): void {
    const s = this.s;
    s.rows++;
    const holders = this.routing[bucket] ?? [];
    if (holders.length === 0) {
      s.missingBuckets++;
      return;
    }
    const decoded = seen.flatMap((x) => {
      const d = decodeSeen(x.message);
      return d ? [{ endpointId: x.endpointId, ...d }] : [];
    });
    if (decoded.some((d) => d.denied)) {
      s.wouldFail.AccessDenied = (s.wouldFail.AccessDenied ?? 0) + 1;
      return;
    }
    const found = decoded;
    if (found.length === 0) {
      s.missingObjects++;
      return;
    }
    if (found.length > 1) s.onSeveralEndpoints++;
    for (const f of found) {
      s.endpoints[f.endpointId] ??= { found: 0, bytes: 0, storageClasses: {} };
      const e = s.endpoints[f.endpointId] as EndpointSurvey;
      e.found++;
      e.bytes += f.size;
      e.storageClasses[f.storageClass] = (e.storageClasses[f.storageClass] ?? 0) + 1;
    }
    // The task fails where its operation would (once per task, the first endpoint's reason).
    const failing = found.find((f) => f.wouldFail);
    if (failing?.wouldFail) s.wouldFail[failing.wouldFail] = (s.wouldFail[failing.wouldFail] ?? 0) + 1;
    if (this.spec.TargetBucket !== undefined) {
      const source = found[0];
      const target = this.routing[this.spec.TargetBucket]?.[0];
      if (source && target && target !== source.endpointId)
        s.crossGatewayBytes = (s.crossGatewayBytes ?? 0) + source.size;
    }
  }

  toJSON(): Survey {
    return this.s;
  }

  /** Writes the summary on the surveyed job, where the progress route and the CLI read it. */
  async finish(store: JsonStore): Promise<void> {
    if (!this.job.surveyOf) return;
    await store.putBytes(
      paths.survey({ accountId: this.job.accountId, jobId: this.job.surveyOf }),
      JSON.stringify({ ...this.s, status: "done", finishedAt: new Date().toISOString() }),
      "application/json",
    );
  }
}

/**
 * Starts the survey of a job waiting in Suspended (or finds the one started); answers the
 * survey job's id.
 */
export async function startSurvey(
  ctx: Pick<Context, "store" | "queue" | "settings">,
  job: JobRecord,
): Promise<string> {
  if (job.status !== "Suspended")
    throw new S3ControlError(
      "JobStatusException",
      409,
      `Only a job in Suspended can be surveyed; it is ${job.status}`,
    );
  const ref = surveyRef(job);
  const now = new Date().toISOString();
  const op = job.request.Operation;
  const target = op.S3PutObjectCopy?.TargetResource;
  const record = newJobRecord(
    ref,
    {
      ...job.request,
      ConfirmationRequired: false,
      Operation: {
        S3SurveyObject: {
          Of: operationName(op) ?? "",
          ...(target ? { TargetBucket: target.slice(target.lastIndexOf(":") + 1) } : {}),
        },
      },
      Report: { Enabled: false },
      Description: `survey of ${job.jobId}`,
      Tags: [],
      Priority: job.priority,
    },
    now,
    { surveyOf: job.jobId },
  );
  const created = await ctx.store.createOrGet(paths.job(ref), record);
  if (created.created) {
    await ctx.queue.send({ v: 1, type: "dispatch", ...ref });
    await ctx.queue.send(
      { v: 1, type: "poll", ...ref, chain: true, token: newAttempt() },
      ctx.settings.pollDelaySeconds,
    );
  }
  return ref.jobId;
}

/** The survey as the progress route shows it: the summary once done, else how far it got. */
export async function surveyOf(ctx: Pick<Context, "store">, job: JobRecord): Promise<Survey | undefined> {
  const done = (await ctx.store.get<Survey>(paths.survey(job)))?.value;
  if (done) return done;
  const running = (await jobGet(ctx.store, surveyRef(job)))?.value;
  if (!running) return undefined;
  return {
    status: running.status === "Failed" || running.status === "Cancelled" ? "failed" : "running",
    surveyJobId: running.jobId,
    rows: running.progress.succeeded + running.progress.failed,
    endpoints: {},
    onSeveralEndpoints: 0,
    missingObjects: 0,
    missingBuckets: 0,
    wouldFail: {},
  };
}
