import { describe, expect, it } from "vitest";
import {
  bitmapsReady,
  deserializeBitmap,
  newBitmap,
  serializeBitmap,
} from "../../lib/bitmap/valid-bitmap.ts";
import { reportKeys, reportLine } from "../../lib/report/layout.ts";

describe("report layout", () => {
  it("writes rows with HTTPStatusCode before ErrorCode and RFC 4180 quoting", () => {
    expect(
      reportLine({
        bucket: "pool",
        key: "obj1",
        status: "succeeded",
        http: 200,
        code: "",
        message: "Successful",
      }),
    ).toBe("pool,obj1,,succeeded,200,,Successful\n");
    expect(
      reportLine({
        bucket: "pool",
        key: "k",
        versionId: "v",
        status: "failed",
        http: 403,
        code: "AccessDenied",
        message: 'a, "b"',
      }),
    ).toBe('pool,k,v,failed,403,AccessDenied,"a, ""b"""\n');
  });

  it("places the report under <Prefix>/job-<id>/", () => {
    expect(reportKeys("JobReport/RestoreReports/", "j1").manifest).toBe(
      "JobReport/RestoreReports/job-j1/manifest.json",
    );
    expect(reportKeys(undefined, "j1").results("failed")).toBe("job-j1/results/j1-failed.csv");
  });
});

describe("valid bitmaps", () => {
  it("serialise in roaring's portable format and read back", async () => {
    await bitmapsReady();
    const b = newBitmap();
    for (const i of [0, 5, 70_000, 4_294_967_295]) b.add(i);
    const bytes = serializeBitmap(b);
    b.dispose();
    // The portable format opens with a little-endian cookie: 12346 (no run containers) or 12347.
    const cookie = (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8);
    expect([12346, 12347]).toContain(cookie);
    const back = deserializeBitmap(bytes);
    expect(back.toArray()).toEqual([0, 5, 70_000, 4_294_967_295]);
    back.dispose();
  });
});
