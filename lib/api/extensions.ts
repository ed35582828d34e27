// s3batch's own routes next to the S3 Control API, for the CLI and for operators. They never
// change an AWS shape: DescribeJob and the rest answer as AWS does. All but /healthz are signed
// like the rest (the same middleware) and answer JSON, or CSV for a report.
//   GET  /healthz                               200 when the control endpoint answers, else 503; no data
//   GET  /v20180820/jobs/{id}/progress          per-endpoint progress, rate and ETA, error summary
//   POST /v20180820/jobs/{id}/survey            surveys a job waiting in Suspended (a dry run: operations/survey.ts)
//   GET  /v20180820/jobs/{id}/report?status=…   one results file of a finished job, from a gateway holding it
//   GET  /v20180820/s3batch/roles                    the roles the signing key may pass
//   GET  /v20180820/s3batch/gateways                 each gateway's capability table (endpoints/capabilities.ts)
//   GET  /v20180820/s3batch/object?bucket&key&role   which gateway holds an object, and its ETag (a manifest)
//   PUT  /v20180820/s3batch/object?bucket&key&role   writes a (manifest) object to the first gateway holding the bucket
// The object routes act as the role the request names, and the report route as the job's role
// (or the one named): the key must be allowed to pass it, and the role to do what the route does.
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Hono, Context as HonoContext } from "hono";
import { type Authorizer, s3Arn } from "../auth/authorize.ts";
import type { Plan } from "../dispatch/plan.ts";
import { capabilityTables } from "../endpoints/capabilities.ts";
import { notHeldHere } from "../endpoints/routing.ts";
import { invalidRequest, notFound, S3ControlError, UnrecoverableError } from "../errors.ts";
import { TERMINAL_STATUSES } from "../jobs/model.ts";
import { paths } from "../jobs/paths.ts";
import { bucketOfArn } from "../manifest/location.ts";
import { MAX_KEY_BYTES } from "../manifest/rows.ts";
import { startSurvey } from "../operations/survey.ts";
import { outcomeFromError } from "../operations/types.ts";
import { type ReportManifest, reportKeys } from "../report/layout.ts";
import { jobRequire } from "./admin.ts";
import type { ApiDeps, ApiEnv } from "./deps.ts";
import { progressView } from "./progress-view.ts";

/** A manifest written through the API: larger ones go to the gateway directly. */
export const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;
export const UPLOAD_PATH = "/v20180820/s3batch/object";
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function objectParams(url: string, deps: ApiDeps): { bucket: string; key: string } {
  const q = new URL(url).searchParams;
  const bucket = q.get("bucket") ?? "";
  const key = q.get("key") ?? "";
  if (!BUCKET.test(bucket)) throw invalidRequest("bucket is not a bucket name");
  if (deps.auth.isInternal(bucket)) throw invalidRequest("bucket names a bucket that belongs to s3batch");
  if (!key || new TextEncoder().encode(key).length > MAX_KEY_BYTES)
    throw invalidRequest(`key must be 1 to ${MAX_KEY_BYTES} bytes`);
  return { bucket, key };
}

/** The role a route acts as: `role` in the query, else `fallback`; the key must be allowed to pass it. */
function actingRole(c: HonoContext<ApiEnv>, deps: ApiDeps, fallback?: string): Authorizer {
  const arn = c.req.query("role") ?? fallback;
  if (!arn) throw invalidRequest("role must name the role this request acts as (a role ARN)");
  deps.auth.passable(c.get("key"), arn);
  const ip = c.get("sourceIp");
  return deps.auth.actingAs(arn, ip ? { sourceIp: ip } : {});
}

/** Refuses with AccessDenied (403) naming role, action and resource. */
function requireAccess(role: Authorizer, action: string, resource: string): void {
  const denial = role.check({ action, resource });
  if (denial) throw new S3ControlError("AccessDenied", 403, denial.message);
}

export function registerExtensions(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  jobRef: (accountId: string, jobId: string) => { accountId: string; jobId: string },
): void {
  app.get("/healthz", async () => {
    try {
      await deps.store.s3.send(new HeadBucketCommand({ Bucket: deps.store.bucket }), {
        abortSignal: AbortSignal.timeout(3_000),
      });
      return json({ status: "ok" });
    } catch {
      return json({ status: "unavailable" }, 503);
    }
  });

  app.get("/v20180820/s3batch/gateways", async () =>
    json({ gateways: await capabilityTables(deps.store, deps.gateways.all()) }),
  );

  app.get("/v20180820/s3batch/roles", (c) => {
    const key = c.get("key");
    const roles = deps.settings.roles
      .map((r) => r.arn)
      .filter((arn) => {
        try {
          deps.auth.passable(key, arn);
          return true;
        } catch {
          return false;
        }
      });
    return json({ roles });
  });

  app.get("/v20180820/jobs/:id/progress", async (c) => {
    const job = await jobRequire(deps, jobRef(c.get("accountId"), c.req.param("id")));
    return json(await progressView(deps, job));
  });

  app.post("/v20180820/jobs/:id/survey", async (c) => {
    const job = await jobRequire(deps, jobRef(c.get("accountId"), c.req.param("id")));
    return json({ jobId: job.jobId, surveyJobId: await startSurvey(deps, job) });
  });

  app.get("/v20180820/jobs/:id/report", async (c) => {
    const ref = jobRef(c.get("accountId"), c.req.param("id"));
    const job = await jobRequire(deps, ref);
    const status = c.req.query("status");
    if (status !== "succeeded" && status !== "failed")
      throw invalidRequest("status must be succeeded or failed");
    const report = job.request.Report;
    if (!report.Enabled || !report.Bucket) throw notFound(`The job ${ref.jobId} writes no report`);
    if (!TERMINAL_STATUSES.includes(job.status))
      throw new S3ControlError(
        "JobStatusException",
        409,
        `The report is written when the job ends; it is ${job.status}`,
      );
    const role = actingRole(c, deps, job.request.RoleArn);
    const plan = (await deps.store.get<Plan>(paths.plan(ref)))?.value;
    const bucket = bucketOfArn(report.Bucket);
    const keys = reportKeys(report.Prefix, ref.jobId);
    const key = keys.results(status);
    requireAccess(role, "s3:GetObject", s3Arn(bucket, keys.manifest));
    requireAccess(role, "s3:GetObject", s3Arn(bucket, key));
    // Each gateway holding the report bucket in turn: its manifest.json says whether the file was
    // written (a file with no rows is not); a gateway without the report, or failing, is passed over.
    const failing: string[] = [];
    for (const id of (plan?.reportEndpoints ?? []).filter((e) => role.mayUse(e))) {
      const s3 = deps.gateways.get(id).s3;
      try {
        const manifest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys.manifest }));
        const written = JSON.parse((await manifest.Body?.transformToString()) ?? "{}") as ReportManifest;
        const listed = (written.Results ?? []).some((r) => r.Key === key);
        if (!listed)
          return new Response("", { headers: { "content-type": "text/csv", "x-s3batch-endpoint": id } });
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!out.Body)
          throw new UnrecoverableError("InternalError", "the report object came back without a body");
        return new Response(out.Body.transformToWebStream(), {
          headers: { "content-type": "text/csv", "x-s3batch-endpoint": id },
        });
      } catch (err) {
        if (outcomeFromError(err).kind === "missing") continue;
        deps.log.warn("report read failed", { endpoint: id });
        failing.push(id);
      }
    }
    if (failing.length > 0)
      throw new S3ControlError(
        "ServiceUnavailable",
        503,
        `The report could not be read: ${failing.join(", ")} did not answer, and no other gateway holds it`,
      );
    throw notFound(`The job ${ref.jobId} wrote no report`);
  });

  app.get(UPLOAD_PATH, async (c) => {
    const { bucket, key } = objectParams(c.req.url, deps);
    const role = actingRole(c, deps);
    requireAccess(role, "s3:GetObject", s3Arn(bucket, key));
    for (const gw of deps.gateways.all().filter((g) => role.mayUse(g.endpoint.id))) {
      try {
        const head = await gw.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return json({
          endpoint: gw.endpoint.id,
          bucket,
          key,
          etag: head.ETag ?? "",
          size: head.ContentLength ?? 0,
          lastModified: head.LastModified?.toISOString(),
        });
      } catch (err) {
        if (outcomeFromError(err).kind !== "missing") throw err;
      }
    }
    throw notFound(`No endpoint holds ${bucket}/${key}`);
  });

  app.put(UPLOAD_PATH, async (c) => {
    const { bucket, key } = objectParams(c.req.url, deps);
    const role = actingRole(c, deps);
    requireAccess(role, "s3:PutObject", s3Arn(bucket, key));
    const body = c.get("bytes");
    for (const gw of deps.gateways.all().filter((g) => role.mayUse(g.endpoint.id))) {
      try {
        await gw.s3.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        if (notHeldHere(err)) continue;
        throw err;
      }
      const put = await gw.s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "text/csv" }),
      );
      return json({ endpoint: gw.endpoint.id, bucket, key, etag: put.ETag ?? "", size: body.length });
    }
    throw notFound(`No endpoint holds the bucket ${bucket}`);
  });
}
