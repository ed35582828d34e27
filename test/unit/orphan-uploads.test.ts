// Which uploads a retried merge aborts: those open under the job's results prefix, every page.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { abortOpenUploads } from "../../lib/merge/orphan-uploads.ts";

describe("abortOpenUploads", () => {
  it("aborts every open upload under the prefix, across pages, and nothing else", async () => {
    const s3 = mockClient(S3Client);
    const prefix = "JobReport/job-j1/results/";
    s3.on(ListMultipartUploadsCommand)
      .resolvesOnce({
        Uploads: [
          { Key: `${prefix}j1-succeeded.csv`, UploadId: "u1" },
          { Key: "JobReport/job-j10/results/x.csv", UploadId: "other-job" },
        ],
        IsTruncated: true,
        NextKeyMarker: `${prefix}j1-succeeded.csv`,
        NextUploadIdMarker: "u1",
      })
      .resolvesOnce({ Uploads: [{ Key: `${prefix}j1-failed.csv`, UploadId: "u2" }], IsTruncated: false });
    s3.on(AbortMultipartUploadCommand).resolves({});

    const aborted = await abortOpenUploads(new S3Client({ region: "us-east-1" }), "pool2", prefix);

    expect(aborted).toBe(2);
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input.UploadId)).toEqual([
      "u1",
      "u2",
    ]);
    expect(s3.commandCalls(ListMultipartUploadsCommand)[1]?.args[0].input).toMatchObject({
      KeyMarker: `${prefix}j1-succeeded.csv`,
      UploadIdMarker: "u1",
    });
    s3.restore();
  });
});
