// The S3 Control job API as a Hono app: REST-XML in, REST-XML out. Every request is SigV4-checked
// and bound to the signing key's account; routes are thin: validate, one call into lib/jobs, map
// the result or the error.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { invalidRequest, notFound, S3ControlError } from "../errors.ts";
import { JOB_ID_PATTERN, JOB_STATUSES, type JobStatus } from "../jobs/model.ts";
import { createJobSchema, jobTagSchema } from "../s3control/create-job-schema.ts";
import { buildErrorXml, buildResultXml, parseRequestXml, xmlList } from "../s3control/xml.ts";
import { jobRequestStatus, jobRequire, jobSetPriority, jobSetTags, listJobs, MAX_JOB_TAGS } from "./admin.ts";
import { createJob } from "./create-job.ts";
import type { ApiDeps, ApiEnv } from "./deps.ts";
import { jobDescriptor, jobListDescriptor } from "./describe-job.ts";
import { MAX_UPLOAD_BYTES, registerExtensions, UPLOAD_PATH } from "./extensions.ts";
import { authenticateHeaders, verifySignature } from "./sigv4.ts";

export type { ApiDeps, ApiEnv } from "./deps.ts";

export const MAX_BODY_BYTES = 256 * 1024;

const xml = (body: string, status = 200) =>
  new Response(body, { status, headers: { "content-type": "application/xml" } });

function firstIssue(error: z.ZodError, what: string): S3ControlError {
  const issue = error.issues[0];
  return invalidRequest(`${issue?.path.join(".") || what}: ${issue?.message ?? "invalid"}`.slice(0, 512));
}

function queryInt(value: string | undefined, name: string, min: number, max: number): number {
  if (value === undefined || !/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw invalidRequest(`${name} must be an integer from ${min} to ${max}`);
  }
  return Number(value);
}

const tagsSchema = z.object({ Tags: xmlList(jobTagSchema, 1000).optional() });

/** Builds the API app over the given job store and queues. */
export function createApp(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const { region } = deps.settings.control;
  const keys = new Map(deps.settings.apiKeys.map((k) => [k.accessKeyId, k]));

  app.use("*", async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("x-amz-request-id", requestId);
  });

  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new S3ControlError("BadRequestException", 413, `The request body is over ${maxSize} bytes`);
      },
    });
  const jobBody = limit(MAX_BODY_BYTES);
  const uploadBody = limit(MAX_UPLOAD_BYTES);
  const verify = { region, lookup: (id: string) => keys.get(id) };
  app.use(
    "/v20180820/*",
    // Who is asking is settled from the headers alone: an unsigned request, an unknown key or a
    // stale clock is refused before a byte of the body is read (and the connection is closed, so
    // the body is never drained either).
    async (c, next) => {
      try {
        const presented = authenticateHeaders(
          { method: c.req.method, url: new URL(c.req.url), headers: c.req.raw.headers },
          verify,
        );
        c.set("key", presented.key);
        c.set("presented", presented);
      } catch (err) {
        c.header("connection", "close");
        throw err;
      }
      await next();
    },
    (c, next) => (c.req.method === "PUT" && c.req.path === UPLOAD_PATH ? uploadBody : jobBody)(c, next),
    async (c, next) => {
      const body = new Uint8Array(await c.req.arrayBuffer());
      const key = await verifySignature(c.get("presented"), {
        method: c.req.method,
        url: new URL(c.req.url),
        headers: c.req.raw.headers,
        body,
      });
      // A presigner hoists x-amz-* headers into the (signed) query string.
      const accountId = c.req.header("x-amz-account-id") ?? c.req.query("x-amz-account-id") ?? "";
      if (accountId !== key.accountId) {
        throw new S3ControlError(
          "AccessDenied",
          403,
          "x-amz-account-id does not match the account of the signing key",
        );
      }
      c.set("accountId", accountId);
      c.set("bytes", body);
      const ip = deps.clientAddress?.(c);
      if (ip) c.set("sourceIp", ip);
      await next();
    },
  );

  const jobRef = (accountId: string, jobId: string) => {
    if (!JOB_ID_PATTERN.test(jobId)) throw notFound(`The job ${jobId.slice(0, 64)} does not exist`);
    return { accountId, jobId };
  };

  app.post("/v20180820/jobs", async (c) => {
    const fields = parseRequestXml(new TextDecoder().decode(c.get("bytes")), "CreateJobRequest");
    const tags = (fields.Tags as { member?: unknown[] } | undefined)?.member;
    if (Array.isArray(tags) && tags.length > MAX_JOB_TAGS) {
      throw new S3ControlError("TooManyTagsException", 400, `A job can have at most ${MAX_JOB_TAGS} tags`);
    }
    const parsed = createJobSchema.safeParse(fields);
    if (!parsed.success) throw firstIssue(parsed.error, "request");
    const ip = c.get("sourceIp");
    const jobId = await createJob(deps, c.get("key"), parsed.data, ip ? { sourceIp: ip } : {});
    return xml(buildResultXml("CreateJobResult", { JobId: jobId }));
  });

  app.get("/v20180820/jobs", async (c) => {
    const statuses = c.req.queries("jobStatuses") ?? [];
    for (const s of statuses)
      if (!JOB_STATUSES.includes(s as JobStatus))
        throw invalidRequest(`Unknown job status ${s.slice(0, 32)}`);
    const maxRaw = c.req.query("maxResults");
    const max = maxRaw === undefined ? 1000 : queryInt(maxRaw, "maxResults", 0, 1000) || 1000;
    const token = c.req.query("nextToken");
    if (token !== undefined && (token.length === 0 || token.length > 1024)) {
      throw new S3ControlError("InvalidNextTokenException", 400, "The NextToken is not valid");
    }
    const page = await listJobs(deps, c.get("accountId"), statuses as JobStatus[], max, token);
    return xml(
      buildResultXml("ListJobsResult", {
        NextToken: page.nextToken,
        Jobs: page.jobs.map((j) => jobListDescriptor(j)),
      }),
    );
  });

  app.get("/v20180820/jobs/:id", async (c) => {
    const job = await jobRequire(deps, jobRef(c.get("accountId"), c.req.param("id")));
    return xml(buildResultXml("DescribeJobResult", { Job: jobDescriptor(job, region) }));
  });

  app.post("/v20180820/jobs/:id/priority", async (c) => {
    const ref = jobRef(c.get("accountId"), c.req.param("id"));
    const priority = queryInt(c.req.query("priority"), "priority", 0, 2147483647);
    const job = await jobSetPriority(deps, ref, priority);
    return xml(buildResultXml("UpdateJobPriorityResult", { JobId: job.jobId, Priority: job.priority }));
  });

  app.post("/v20180820/jobs/:id/status", async (c) => {
    const ref = jobRef(c.get("accountId"), c.req.param("id"));
    const requested = c.req.query("requestedJobStatus");
    if (requested !== "Ready" && requested !== "Cancelled") {
      throw invalidRequest("requestedJobStatus must be Ready or Cancelled");
    }
    const reason = c.req.query("statusUpdateReason");
    if (reason !== undefined && (reason.length < 1 || reason.length > 256)) {
      throw invalidRequest("statusUpdateReason must be 1 to 256 characters");
    }
    const job = await jobRequestStatus(deps, ref, requested, reason);
    return xml(
      buildResultXml("UpdateJobStatusResult", {
        JobId: job.jobId,
        Status: job.status,
        StatusUpdateReason: job.statusUpdateReason,
      }),
    );
  });

  app.get("/v20180820/jobs/:id/tagging", async (c) => {
    const job = await jobRequire(deps, jobRef(c.get("accountId"), c.req.param("id")));
    return xml(buildResultXml("GetJobTaggingResult", { Tags: job.tags }));
  });

  app.put("/v20180820/jobs/:id/tagging", async (c) => {
    const ref = jobRef(c.get("accountId"), c.req.param("id"));
    const parsed = tagsSchema.safeParse(
      parseRequestXml(new TextDecoder().decode(c.get("bytes")), "PutJobTaggingRequest"),
    );
    if (!parsed.success) throw firstIssue(parsed.error, "Tags");
    await jobSetTags(deps, ref, parsed.data.Tags ?? []);
    return xml(buildResultXml("PutJobTaggingResult", {}));
  });

  app.delete("/v20180820/jobs/:id/tagging", async (c) => {
    const ref = jobRef(c.get("accountId"), c.req.param("id"));
    await jobSetTags(deps, ref, []);
    return xml(buildResultXml("DeleteJobTaggingResult", {}));
  });

  registerExtensions(app, deps, jobRef);

  app.notFound((c) =>
    xml(buildErrorXml("InvalidRequestException", "No such operation", c.get("requestId")), 400),
  );

  app.onError((err, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    if (err instanceof S3ControlError)
      return xml(buildErrorXml(err.code, err.message, requestId), err.status);
    if (err.name === "SlowDown" || err.name === "ThrottlingException") {
      return xml(buildErrorXml("TooManyRequestsException", "Too many requests; retry later", requestId), 429);
    }
    deps.log.error("request failed", { requestId, error: err.name, message: err.message });
    return xml(buildErrorXml("InternalServiceException", "An internal error occurred", requestId), 500);
  });

  return app;
}
