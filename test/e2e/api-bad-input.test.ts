// At least 100 malformed CreateJob requests against the running API: each is answered with its
// S3 Control XML error and a 4xx, and nothing is written to the internal bucket.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { badCreateJobCases, createJobXml } from "../helpers/bad-create-job.ts";
import { internalSnapshot } from "../helpers/internal-bucket.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { signedRequest } from "../helpers/signing.ts";

let t: TestRuntime;
let before: Map<string, string>;
const cases = badCreateJobCases();
const KNOWN_CODES = /<Code>(BadRequestException|InvalidRequestException|TooManyTagsException)<\/Code>/;

beforeAll(async () => {
  t = await startTestRuntime();
  before = await internalSnapshot(t.runtime.ctx.store.s3, t.runtime.ctx.settings.internalBucket);
});
afterAll(async () => {
  await t?.stop();
});

describe("CreateJob bad input", () => {
  it("has at least 100 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
  });

  it("accepts the body the cases are made from (the control)", async () => {
    const req = await signedRequest(t.runtime.url, "/v20180820/jobs", {
      method: "POST",
      body: createJobXml({ ClientRequestToken: "control", ConfirmationRequired: "true" }),
    });
    const res = await fetch(req);
    expect(res.status).toBe(200);
    before = await internalSnapshot(t.runtime.ctx.store.s3, t.runtime.ctx.settings.internalBucket);
  });

  it.each(cases)("$name: 4xx with an S3 Control XML error", async ({ body }) => {
    const req = await signedRequest(t.runtime.url, "/v20180820/jobs", { method: "POST", body });
    const res = await fetch(req);
    const text = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("content-type")).toContain("application/xml");
    expect(text).toMatch(KNOWN_CODES);
    expect(text).toMatch(/<Message>[^<]+<\/Message>/);
  });

  it("refuses bodies over the limit with 413", async () => {
    for (const size of [300 * 1024, 2 * 1024 * 1024]) {
      const body = createJobXml({ Description: "d".repeat(size) });
      const res = await fetch(
        await signedRequest(t.runtime.url, "/v20180820/jobs", { method: "POST", body }),
      );
      expect(res.status).toBe(413);
      expect(await res.text()).toContain("<Code>BadRequestException</Code>");
    }
  });

  it("wrote nothing for any of them", async () => {
    // The control job's dispatch may still be settling; compare only what bad input could write.
    const after = await internalSnapshot(t.runtime.ctx.store.s3, t.runtime.ctx.settings.internalBucket);
    const created = [...after.keys()].filter(
      (k) => !before.has(k) && (k.startsWith("tokens/") || k.endsWith("/job.json")),
    );
    expect(created).toEqual([]);
  });
});
