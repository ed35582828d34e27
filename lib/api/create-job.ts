// CreateJob: idempotent per (account, ClientRequestToken). The token is claimed first with a
// create-if-absent write, then the job record, then the dispatch message; a retry after a crash
// at any point finds what was written and finishes the rest.

import type { Authority, Origin } from "../auth/authorize.ts";
import type { ApiKey } from "../auth/keys.ts";
import type { Context } from "../context.ts";
import { invalidRequest, S3ControlError } from "../errors.ts";
import { newJobId } from "../jobs/job-id.ts";
import { newJobRecord } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { jobGet } from "../jobs/store.ts";
import { newAttempt } from "../leases/lease.ts";
import { bucketOfArn } from "../manifest/location.ts";
import { checkTarget, NOTIFY_TAG } from "../notify/notify.ts";
import type { CreateJobInput } from "../s3control/create-job-schema.ts";
import { sha256Hex } from "../util/hash.ts";

interface TokenRecord {
  jobId: string;
  requestHash: string;
  /** The instant in the job ID: CreationTime, so ListJobs' order and CreationTime agree. */
  createdAt: string;
}

/** The buckets a request names itself (not its manifest's rows), with the field that names each. */
function namedBuckets(input: CreateJobInput): [string, string][] {
  const out: [string, string][] = [];
  if (input.Manifest) {
    const m = /^arn:[^:]+:s3:::([^/]+)\//.exec(input.Manifest.Location.ObjectArn);
    if (m?.[1]) out.push(["Manifest.Location.ObjectArn", m[1]]);
  }
  const gen = input.ManifestGenerator?.S3JobManifestGenerator;
  if (gen) out.push(["ManifestGenerator.SourceBucket", bucketOfArn(gen.SourceBucket)]);
  if (gen?.ManifestOutputLocation)
    out.push([
      "ManifestGenerator.ManifestOutputLocation.Bucket",
      bucketOfArn(gen.ManifestOutputLocation.Bucket),
    ]);
  if (input.Report.Bucket) out.push(["Report.Bucket", bucketOfArn(input.Report.Bucket)]);
  const target = input.Operation.S3PutObjectCopy?.TargetResource;
  if (target) out.push(["Operation.S3PutObjectCopy.TargetResource", bucketOfArn(target)]);
  return out;
}

/** Refuses a request that names s3batch's internal bucket anywhere, before anything is written. */
export function refuseInternalBucket(auth: Authority, input: CreateJobInput): void {
  for (const [field, bucket] of namedBuckets(input))
    if (auth.isInternal(bucket)) throw invalidRequest(`${field} names a bucket that belongs to s3batch`);
}

/**
 * Creates the job (or finds the one this token already created) and returns its id. The caller's
 * key must be allowed to pass the job's role; nothing is written otherwise.
 */
export async function createJob(
  ctx: Pick<Context, "store" | "queue" | "settings" | "auth">,
  key: ApiKey,
  input: CreateJobInput,
  origin: Origin = {},
): Promise<string> {
  const accountId = key.accountId;
  ctx.auth.passable(key, input.RoleArn);
  refuseInternalBucket(ctx.auth, input);
  const { ClientRequestToken, ...request } = input;
  const notify = request.Tags?.find((t) => t.Key === NOTIFY_TAG);
  if (notify) checkTarget(notify.Value, ctx.settings.notify);
  const requestHash = await sha256Hex(JSON.stringify(request));
  const tokenKey = paths.token(accountId, ClientRequestToken);
  const now = Date.now();
  const claimed = await ctx.store.createOrGet<TokenRecord>(tokenKey, {
    jobId: newJobId(now),
    requestHash,
    createdAt: new Date(now).toISOString(),
  });
  const token = claimed.value;
  if (token.requestHash !== requestHash) {
    throw new S3ControlError(
      "IdempotencyException",
      409,
      "The ClientRequestToken was already used for a different CreateJob request",
    );
  }
  const ref = { accountId, jobId: token.jobId };
  let job = (await jobGet(ctx.store, ref))?.value;
  if (!job) {
    const record = newJobRecord(
      ref,
      request,
      token.createdAt,
      origin.sourceIp ? { origin: { sourceIp: origin.sourceIp } } : {},
    );
    job = (await ctx.store.createOrGet(paths.job(ref), record)).value;
  }
  if (job.status === "New") {
    await ctx.queue.send({ v: 1, type: "dispatch", accountId, jobId: token.jobId });
    // The reconciler's chain starts with the job: it sees a dispatch that died, too.
    await ctx.queue.send(
      { v: 1, type: "poll", accountId, jobId: token.jobId, chain: true, token: newAttempt() },
      ctx.settings.pollDelaySeconds,
    );
  }
  return token.jobId;
}
