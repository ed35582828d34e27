// Nobody without the right key can see or touch a job. Each attack is answered with an error and
// leaves the internal bucket exactly as it was.
import {
  DescribeJobCommand,
  NotFoundException,
  S3ControlServiceException,
  UpdateJobPriorityCommand,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_ID, OTHER_ACCOUNT_ID, OTHER_CREDENTIALS, s3ControlClient } from "../helpers/clients.ts";
import { internalSnapshot } from "../helpers/internal-bucket.ts";
import { createJob, createJobInput, waitForJob } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";
import { signedRequest } from "../helpers/signing.ts";

let t: TestRuntime;
let jobId: string;
const NS = "http://awss3control.amazonaws.com/doc/2018-08-20/";

beforeAll(async () => {
  t = await startTestRuntime();
  const manifest = await seedScenario(t.gatewayA, t.gatewayB);
  jobId = await createJob(
    t.control,
    createJobInput(
      manifest,
      { S3InitiateRestoreObject: { ExpirationInDays: 1 } },
      { ConfirmationRequired: true },
    ),
  );
  await waitForJob(t.control, jobId, new Set(["Suspended"]));
});
afterAll(async () => {
  await t?.stop();
});

const snapshot = () => internalSnapshot(t.runtime.ctx.store.s3, t.runtime.ctx.settings.internalBucket);

/** Runs `attack`, expects an XML error with `status` and `code`, and no change to the internal bucket. */
async function refused(attack: () => Promise<Response>, status: number, code: string): Promise<void> {
  const before = await snapshot();
  const res = await attack();
  const body = await res.text();
  expect(res.status).toBe(status);
  expect(body).toContain(`<Code>${code}</Code>`);
  expect(await snapshot()).toEqual(before);
}

const createBody = (priority: number) =>
  `<CreateJobRequest xmlns="${NS}"><Operation><S3InitiateRestoreObject><ExpirationInDays>1</ExpirationInDays></S3InitiateRestoreObject></Operation><Report><Enabled>false</Enabled></Report><ClientRequestToken>sec-${priority}</ClientRequestToken><Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::pool/manifest.csv</ObjectArn><ETag>x</ETag></Location></Manifest><Priority>${priority}</Priority><RoleArn>arn:aws:iam::${ACCOUNT_ID}:role/r</RoleArn></CreateJobRequest>`;

describe("API security", () => {
  it("refuses a request without a signature", async () => {
    await refused(
      () =>
        fetch(`${t.runtime.url}/v20180820/jobs/${jobId}`, { headers: { "x-amz-account-id": ACCOUNT_ID } }),
      403,
      "AccessDenied",
    );
  });

  it("refuses a request signed with the wrong secret", async () => {
    const wrong = s3ControlClient(t.runtime.url, { accessKeyId: "test", secretAccessKey: "not-the-secret" });
    const before = await snapshot();
    const err = await wrong
      .send(
        new UpdateJobStatusCommand({ AccountId: ACCOUNT_ID, JobId: jobId, RequestedJobStatus: "Cancelled" }),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(S3ControlServiceException);
    expect(err.name).toBe("SignatureDoesNotMatch");
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect(await snapshot()).toEqual(before);
    wrong.destroy();
  });

  it("refuses a tampered body, whether or not its SHA-256 header was changed to match", async () => {
    // Control: the same request untampered passes the signature check and reaches validation
    // (priority -1 is then refused there, so it writes nothing either).
    const fine = await signedRequest(t.runtime.url, "/v20180820/jobs", {
      method: "POST",
      body: createBody(-1),
    });
    await refused(() => fetch(fine), 400, "InvalidRequestException");
    const signed = await signedRequest(t.runtime.url, "/v20180820/jobs", {
      method: "POST",
      body: createBody(1),
    });
    await refused(
      () => fetch(signed.url, { method: "POST", headers: signed.headers, body: createBody(999) }),
      403,
      "XAmzContentSHA256Mismatch",
    );
    const { createHash } = await import("node:crypto");
    const headers = new Headers(signed.headers);
    headers.set("x-amz-content-sha256", createHash("sha256").update(createBody(999)).digest("hex"));
    await refused(
      () => fetch(signed.url, { method: "POST", headers, body: createBody(999) }),
      403,
      "SignatureDoesNotMatch",
    );
  });

  it("refuses a tampered query string", async () => {
    const control = await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}/priority`, {
      method: "POST",
      query: { priority: "3" },
    });
    expect((await fetch(control)).status).toBe(200);
    const signed = await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}/priority`, {
      method: "POST",
      query: { priority: "1" },
    });
    const url = signed.url.replace("priority=1", "priority=99");
    await refused(
      () => fetch(url, { method: "POST", headers: signed.headers }),
      403,
      "SignatureDoesNotMatch",
    );
  });

  it("refuses a request signed 16 minutes ago, and an expired presigned URL", async () => {
    const old = await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}/priority`, {
      method: "POST",
      query: { priority: "5" },
      signingDate: new Date(Date.now() - 16 * 60 * 1000),
    });
    await refused(
      () => fetch(old.url, { method: "POST", headers: old.headers }),
      403,
      "RequestTimeTooSkewed",
    );
    const expired = await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}`, {
      presign: { expiresIn: 60 },
      signingDate: new Date(Date.now() - 2 * 60 * 1000),
    });
    await refused(() => fetch(expired.url, { headers: expired.headers }), 403, "AccessDenied");
  });

  it("accepts a valid presigned URL", async () => {
    const presigned = await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}`, {
      presign: { expiresIn: 300 },
    });
    const res = await fetch(presigned.url, { headers: presigned.headers });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<JobId>${jobId}</JobId>`);
  });

  it("refuses another account's key acting as this account", async () => {
    const signed = await signedRequest(t.runtime.url, `/v20180820/jobs/${jobId}/priority`, {
      method: "POST",
      query: { priority: "7" },
      credentials: OTHER_CREDENTIALS,
      accountId: ACCOUNT_ID,
    });
    await refused(() => fetch(signed.url, { method: "POST", headers: signed.headers }), 403, "AccessDenied");
  });

  it("answers another account's job ID with NotFoundException, for reads and writes", async () => {
    const other = s3ControlClient(t.runtime.url, OTHER_CREDENTIALS);
    const before = await snapshot();
    for (const command of [
      new DescribeJobCommand({ AccountId: OTHER_ACCOUNT_ID, JobId: jobId }),
      new UpdateJobPriorityCommand({ AccountId: OTHER_ACCOUNT_ID, JobId: jobId, Priority: 1 }),
      new UpdateJobStatusCommand({
        AccountId: OTHER_ACCOUNT_ID,
        JobId: jobId,
        RequestedJobStatus: "Cancelled",
      }),
    ]) {
      // biome-ignore lint/suspicious/noExplicitAny: three command types, one assertion
      await expect(other.send(command as any)).rejects.toBeInstanceOf(NotFoundException);
    }
    expect(await snapshot()).toEqual(before);
    other.destroy();
  });
});
