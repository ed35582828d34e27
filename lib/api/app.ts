// The S3 Control job API as a Hono app: REST-XML in, REST-XML out. Routes are thin: check the
// caller, validate, one call into lib/jobs, map the result or error.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context as AppDeps } from "../context.ts";
import { invalidRequest, notFound, S3ControlError } from "../errors.ts";
import { createJob } from "../jobs/create-job.ts";
import { jobGet } from "../jobs/store.ts";
import { createJobSchema } from "../s3control/create-job-schema.ts";
import { jobDescriptor } from "../s3control/describe-job.ts";
import { buildErrorXml, buildResultXml, parseRequestXml } from "../s3control/xml.ts";

export const MAX_BODY_BYTES = 256 * 1024;
const JOB_ID = /^[a-zA-Z0-9\-_]{5,36}$/;
const ACCOUNT_ID = /^\d{12}$/;

type Env = { Variables: { requestId: string; accountId: string } };
export type ApiDeps = Pick<AppDeps, "store" | "queue" | "log"> & { region: string };

const xml = (body: string, status = 200) =>
  new Response(body, { status, headers: { "content-type": "application/xml" } });

/** Builds the API app over the given job store and dispatch queue. */
export function createApp(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.use("*", async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("x-amz-request-id", requestId);
  });

  app.use(
    "/v20180820/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new S3ControlError(
          "BadRequestException",
          413,
          `The request body is over ${MAX_BODY_BYTES} bytes`,
        );
      },
    }),
    async (c, next) => {
      const accountId = c.req.header("x-amz-account-id") ?? "";
      if (!ACCOUNT_ID.test(accountId)) throw invalidRequest("x-amz-account-id must be a 12-digit account ID");
      c.set("accountId", accountId);
      await next();
    },
  );

  app.post("/v20180820/jobs", async (c) => {
    const fields = parseRequestXml(await c.req.text(), "CreateJobRequest");
    const parsed = createJobSchema.safeParse(fields);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalidRequest(
        `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`.slice(0, 512),
      );
    }
    const jobId = await createJob(deps, c.get("accountId"), parsed.data);
    return xml(buildResultXml("CreateJobResult", { JobId: jobId }));
  });

  app.get("/v20180820/jobs/:id", async (c) => {
    const jobId = c.req.param("id");
    const job = JOB_ID.test(jobId)
      ? await jobGet(deps.store, { accountId: c.get("accountId"), jobId })
      : undefined;
    if (!job) throw notFound(`The job ${jobId.slice(0, 64)} does not exist`);
    return xml(buildResultXml("DescribeJobResult", { Job: jobDescriptor(job.value, deps.region) }));
  });

  app.notFound((c) =>
    xml(buildErrorXml("InvalidRequestException", "No such operation", c.get("requestId")), 400),
  );

  app.onError((err, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    if (err instanceof S3ControlError)
      return xml(buildErrorXml(err.code, err.message, requestId), err.status);
    deps.log.error("request failed", { requestId, error: err.name, message: err.message });
    return xml(buildErrorXml("InternalServiceException", "An internal error occurred", requestId), 500);
  });

  return app;
}
