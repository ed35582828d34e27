// How S3 answers become task outcomes, for the answers the emulators cannot be made to give:
// a restore already under way (AWS: 409 RestoreAlreadyInProgress) and a 5xx on an absent key.
import { HeadObjectCommand, RestoreObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { restoreOperation } from "../../lib/operations/restore.ts";
import type { TaskContext } from "../../lib/operations/types.ts";

const s3 = new S3Client({ region: "us-east-1" });
const mock = mockClient(s3);
const row = { index: 0, bucket: "pool", key: "k", rawKey: "k" };
const task = { s3 } as TaskContext;
const error = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message: name,
  });

describe("restore outcomes", () => {
  it("counts RestoreAlreadyInProgress as success", async () => {
    mock.reset();
    mock.on(RestoreObjectCommand).rejects(error("RestoreAlreadyInProgress", 409));
    const op = restoreOperation({ ExpirationInDays: 1 });
    expect(await op.run(task, row)).toEqual({ kind: "succeeded", message: "Successful" });
  });

  it("reports InvalidObjectState as a failure with its status", async () => {
    mock.reset();
    mock.on(RestoreObjectCommand).rejects(error("InvalidObjectState", 403));
    expect(await restoreOperation({}).run(task, row)).toMatchObject({
      kind: "failed",
      http: 403,
      code: "InvalidObjectState",
    });
  });

  it("treats a 5xx as 'not here' only when HeadObject says the object is absent", async () => {
    mock.reset();
    mock.on(RestoreObjectCommand).rejects(error("InternalError", 500));
    mock.on(HeadObjectCommand).rejects(error("NotFound", 404));
    expect(await restoreOperation({}).run(task, row)).toEqual({ kind: "missing" });
    mock.on(HeadObjectCommand).resolves({});
    expect(await restoreOperation({}).run(task, row)).toMatchObject({ kind: "failed", http: 500 });
  });
});
