// The survey's sums from the rows the merge meets: found, bytes and classes per endpoint, objects
// on several endpoints, missing objects and buckets, what would fail, and for a copy the bytes
// that would cross gateways (read on the first endpoint holding the object, written to the first
// holding the target bucket).
import { describe, expect, it } from "vitest";
import { SurveyTally } from "../../lib/operations/survey.ts";

const seen = (size: number, storageClass = "STANDARD", wouldFail?: string) =>
  `survey ${JSON.stringify({ size, storageClass, ...(wouldFail ? { wouldFail } : {}) })}`;

const SURVEY_JOB = { accountId: "123456789012", jobId: "j_s", surveyOf: "j" };

describe("survey tally", () => {
  it("sums a copy's rows, counting the bytes that would cross to the target's gateway", () => {
    const routing = { src: ["a", "b"], dst: ["b"] };
    const t = new SurveyTally(SURVEY_JOB, { Of: "S3PutObjectCopy", TargetBucket: "dst" }, routing);
    t.row("src", [{ endpointId: "a", message: seen(10) }]); // crosses a → b
    t.row("src", [{ endpointId: "b", message: seen(20, "GLACIER") }]); // stays on b
    t.row("src", [
      { endpointId: "a", message: seen(30) },
      { endpointId: "b", message: seen(30) },
    ]); // read on a, the first holder: crosses
    t.row("src", []); // missing
    t.row("nowhere", []); // no endpoint holds the bucket
    t.row("src", [{ endpointId: "b", message: seen(5, "STANDARD", "InvalidObjectState") }]);
    expect(t.toJSON()).toEqual({
      status: "running",
      surveyJobId: "j_s",
      rows: 6,
      endpoints: {
        a: { found: 2, bytes: 40, storageClasses: { STANDARD: 2 } },
        b: { found: 3, bytes: 55, storageClasses: { GLACIER: 1, STANDARD: 2 } },
      },
      onSeveralEndpoints: 1,
      missingObjects: 1,
      missingBuckets: 1,
      crossGatewayBytes: 40,
      wouldFail: { InvalidObjectState: 1 },
    });
  });

  it("carries its sums across a handover", () => {
    const routing = { src: ["a"] };
    const first = new SurveyTally(SURVEY_JOB, { Of: "S3PutObjectTagging" }, routing);
    first.row("src", [{ endpointId: "a", message: seen(7) }]);
    const resumed = new SurveyTally(SURVEY_JOB, { Of: "S3PutObjectTagging" }, routing, first.toJSON());
    resumed.row("src", [{ endpointId: "a", message: seen(8) }]);
    expect(resumed.toJSON().endpoints.a).toEqual({ found: 2, bytes: 15, storageClasses: { STANDARD: 2 } });
    expect(first.toJSON().endpoints.a?.found).toBe(1);
  });
});
