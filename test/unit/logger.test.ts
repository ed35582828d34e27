// Log lines never carry secrets: fields named like secrets are replaced, and so are the
// credentials a URL can carry (user info, a presigned query's signature and credential).
import { describe, expect, it } from "vitest";
import { createLogger } from "../../lib/util/logger.ts";

describe("logger", () => {
  it("writes one JSON line per call with credentials in URLs and secret-named fields replaced", () => {
    const lines: string[] = [];
    const log = createLogger("test", "info", (l) => lines.push(l), { worker: "w1" });
    log.info("fetch http://admin:hunter2@gw.internal:9000/bucket failed", {
      url: "https://gw/b/k?X-Amz-Credential=AKIAEXAMPLE%2F20261201&X-Amz-Signature=abcdef0123&x=1",
      secretAccessKey: "wJalrXUtnFEMI",
      jobId: "job-1",
    });
    log.debug("not written");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line).toMatchObject({ level: "info", component: "test", worker: "w1", jobId: "job-1" });
    expect(line.msg).toBe("fetch http://[redacted]@gw.internal:9000/bucket failed");
    expect(line.url).toBe("https://gw/b/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&x=1");
    expect(line.secretAccessKey).toBe("[redacted]");
    for (const secret of ["hunter2", "AKIAEXAMPLE", "abcdef0123", "wJalrXUtnFEMI"])
      expect(lines[0]).not.toContain(secret);
  });
});
