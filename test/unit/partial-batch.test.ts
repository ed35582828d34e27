import { describe, expect, it } from "vitest";
import { RetryableError } from "../../lib/errors.ts";
import { processPartialResponse } from "../../lib/queue/partial-batch.ts";
import { createLogger } from "../../lib/util/logger.ts";

const quiet = createLogger("test", "error", () => {});

describe("processPartialResponse", () => {
  it("reports only the records that failed, and runs every record once", async () => {
    const seen: string[] = [];
    const res = await processPartialResponse(
      {
        Records: [
          { messageId: "a", body: '{"n":1}' },
          { messageId: "b", body: "not json" },
          { messageId: "c", body: '{"n":3}' },
          { messageId: "d", body: '{"n":4}' },
        ],
      },
      async (record) => {
        seen.push(record.messageId);
        const body = JSON.parse(record.body) as { n: number };
        if (body.n === 3) throw new RetryableError("try later");
      },
      quiet,
    );
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "b" }, { itemIdentifier: "c" }]);
    expect(seen.sort()).toEqual(["a", "b", "c", "d"]);
  });

  it("logs a secret-looking field only as redacted", () => {
    const lines: string[] = [];
    createLogger("test", "info", (l) => lines.push(l)).info("x", { secretAccessKey: "hunter2", jobId: "j" });
    expect(lines[0]).not.toContain("hunter2");
    expect(lines[0]).toContain('"jobId":"j"');
  });
});
