import { describe, expect, it } from "vitest";
import { parseEndpoints } from "../../lib/endpoints/config.ts";

describe("endpoint configuration", () => {
  it("reads YAML and JSON, defaults path style, and resolves credentials named by variable", () => {
    const yaml = `endpoints:\n  - id: ceph\n    url: http://10.0.0.1:7480\n    credentials: { accessKeyIdEnv: CEPH_KEY, secretAccessKeyEnv: CEPH_SECRET }\n`;
    const [ceph] = parseEndpoints(yaml, { CEPH_KEY: "AK", CEPH_SECRET: "SK" });
    expect(ceph).toMatchObject({
      id: "ceph",
      forcePathStyle: true,
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    });
    expect(parseEndpoints('[{"id":"a","url":"https://s3.example"}]', {})[0]?.region).toBe("us-east-1");
  });

  it("names the problem without echoing a secret", () => {
    const text =
      '[{"id":"Bad Id","url":"http://x","credentials":{"accessKeyId":"AKIDSECRET","secretAccessKey":"hunter2"}}]';
    expect(() => parseEndpoints(text, {})).toThrow(/id/);
    try {
      parseEndpoints(text, {});
    } catch (err) {
      expect((err as Error).message).not.toMatch(/hunter2|AKIDSECRET/);
    }
  });

  it("refuses duplicate ids and unset credential variables", () => {
    expect(() => parseEndpoints('[{"id":"a","url":"http://x"},{"id":"a","url":"http://y"}]', {})).toThrow(
      /duplicate/,
    );
    expect(() =>
      parseEndpoints(
        '[{"id":"a","url":"http://x","credentials":{"accessKeyIdEnv":"K","secretAccessKeyEnv":"S"}}]',
        {},
      ),
    ).toThrow(/not set/);
  });
});
