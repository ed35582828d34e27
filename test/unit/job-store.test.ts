// Conditional-write logic of job records, over a mocked S3 client (pure logic, no emulator).

import { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { sdkStreamMixin } from "@smithy/util-stream";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { JobRecord } from "../../lib/jobs/model.ts";
import { JobStatusError, jobMarkActive, jobMarkPreparing, TRANSITIONS } from "../../lib/jobs/transitions.ts";
import { JsonStore } from "../../lib/store/json-store.ts";

const s3 = mockClient(S3Client);
const store = new JsonStore(new S3Client({ region: "us-east-1" }), "internal");
const ref = { accountId: "123456789012", jobId: "job-00001" };

const job = (status: JobRecord["status"]): JobRecord =>
  ({
    schema: 1,
    ...ref,
    status,
    request: {} as JobRecord["request"],
    priority: 1,
    tags: [],
    createdAt: "2026-01-01T00:00:00.000Z",
    phaseTimes: {},
    history: [{ status: "New", at: "2026-01-01T00:00:00.000Z" }],
    progress: { total: 0, succeeded: 0, failed: 0 },
    failureReasons: [],
  }) as JobRecord;

const body = (value: unknown) => sdkStreamMixin(Readable.from([Buffer.from(JSON.stringify(value))]));
const preconditionFailed = () =>
  new S3ServiceException({
    name: "PreconditionFailed",
    $fault: "client",
    $metadata: { httpStatusCode: 412 },
  });

beforeEach(() => s3.reset());

describe("job transitions", () => {
  it("writes with If-Match on the ETag just read, and re-reads after losing a race", async () => {
    s3.on(GetObjectCommand)
      .resolvesOnce({ Body: body(job("New")), ETag: '"e1"' })
      .resolvesOnce({ Body: body(job("New")), ETag: '"e2"' });
    s3.on(PutObjectCommand).rejectsOnce(preconditionFailed()).resolves({ ETag: '"e3"' });

    const moved = await jobMarkPreparing(store, ref);

    expect(moved.status).toBe("Preparing");
    const puts = s3.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Key?.endsWith("job.json"));
    expect(puts.map((c) => c.args[0].input.IfMatch)).toEqual(['"e1"', '"e2"']);
  });

  it("records the status change's event in the same conditional write, and in no other", async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(job("New")), ETag: '"e1"' });
    s3.on(PutObjectCommand).resolves({ ETag: '"e2"' });

    await jobMarkPreparing(store, ref, { statusUpdateReason: "go" });

    const puts = s3.commandCalls(PutObjectCommand);
    expect(puts).toHaveLength(1);
    const written = JSON.parse(new TextDecoder().decode(puts[0]?.args[0].input.Body as Uint8Array));
    expect(written.history.map((e: { status: string }) => e.status)).toEqual(["New", "Preparing"]);
    expect(written.history[1]).toMatchObject({ status: "Preparing", statusUpdateReason: "go" });
  });

  it("is a no-op when the job already has the status, and refuses a transition the table forbids", async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(job("Active")), ETag: '"e1"' });
    expect((await jobMarkActive(store, ref)).status).toBe("Active");
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);

    s3.on(GetObjectCommand).resolves({ Body: body(job("Complete")), ETag: '"e1"' });
    await expect(jobMarkActive(store, ref)).rejects.toBeInstanceOf(JobStatusError);
  });

  it("has no way out of a terminal status", () => {
    expect(TRANSITIONS.Complete).toEqual([]);
    expect(TRANSITIONS.Cancelled).toEqual([]);
    expect(TRANSITIONS.Failed).toEqual([]);
  });
});
