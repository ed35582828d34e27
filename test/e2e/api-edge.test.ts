// The edge refuses before it buffers: a request whose caller cannot be known (unsigned, an unknown
// key, a malformed Authorization header, a clock 20 minutes off) is answered while its 32 MiB body
// is still on the client's side of a raw socket, and the connection is closed rather than drained;
// a known caller's body over its route's bound is refused from content-length alone.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_ID } from "../helpers/clients.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { signedRequest } from "../helpers/signing.ts";

const BODY = 32 * 1024 * 1024;
const SENT_FIRST = 64 * 1024;
let t: TestRuntime;

beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(async () => {
  await t?.stop();
});

interface Outcome {
  status: number;
  /** Body bytes written before the answer came. */
  sentBeforeAnswer: number;
  /** The server closed the connection after answering (it did not read the rest). */
  closed: boolean;
  rssGrowth: number;
}

/** Sends the headers and the first 64 KiB of a 32 MiB body, then waits for the answer. */
function sendPartly(path: string, headers: Record<string, string>, length = BODY): Promise<Outcome> {
  const url = new URL(t.runtime.url);
  const rssBefore = process.memoryUsage().rss;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(url.port), url.hostname);
    let answer = "";
    let sent = 0;
    let status = 0;
    socket.on("error", () => {});
    socket.on("connect", () => {
      const head = [
        `PUT ${path} HTTP/1.1`,
        `host: ${url.host}`,
        `content-length: ${length}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        "",
        "",
      ].join("\r\n");
      socket.write(head);
      socket.write(Buffer.alloc(SENT_FIRST, 97));
      sent = SENT_FIRST;
    });
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      status ||= Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
    });
    socket.on("close", () => {
      if (!status) return reject(new Error(`no answer: ${answer.slice(0, 200)}`));
      resolve({
        status,
        sentBeforeAnswer: sent,
        closed: true,
        rssGrowth: process.memoryUsage().rss - rssBefore,
      });
    });
    setTimeout(() => {
      socket.destroy();
      if (!status) reject(new Error("the server waited for the body"));
    }, 10_000);
  });
}

const objectPath = `/v20180820/s3batch/object?bucket=pool&key=big.csv&role=arn%3Aaws%3Aiam%3A%3A${ACCOUNT_ID}%3Arole%2Fbatch-operations`;

async function signedHeaders(o: { accessKeyId?: string; signingDate?: Date } = {}) {
  const req = await signedRequest(t.runtime.url, "/v20180820/s3batch/object", {
    method: "PUT",
    query: { bucket: "pool", key: "big.csv", role: `arn:aws:iam::${ACCOUNT_ID}:role/batch-operations` },
    ...(o.accessKeyId ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: "x" } } : {}),
    ...(o.signingDate ? { signingDate: o.signingDate } : {}),
  });
  const headers: Record<string, string> = {};
  req.headers.forEach((v, k) => {
    if (k !== "host") headers[k] = v;
  });
  return headers;
}

describe("the API edge", () => {
  it.each([
    ["an unsigned request", async () => ({ "x-amz-account-id": ACCOUNT_ID }), 403],
    ["an unknown access key", () => signedHeaders({ accessKeyId: "AKIDNOBODY" }), 403],
    [
      "a malformed Authorization header",
      async () => ({ authorization: "AWS4-HMAC-SHA256 Credential=nonsense", "x-amz-account-id": ACCOUNT_ID }),
      403,
    ],
    ["a clock 20 minutes off", () => signedHeaders({ signingDate: new Date(Date.now() - 20 * 60_000) }), 403],
  ])(
    "answers %s while a 32 MiB body is still unsent, and closes the connection",
    async (_what, headers, status) => {
      const out = await sendPartly(objectPath, await headers());
      expect(out.status).toBe(status);
      expect(out.sentBeforeAnswer).toBe(SENT_FIRST);
      expect(out.closed).toBe(true);
      // 32 MiB were never read into the server's (this process's) memory.
      expect(out.rssGrowth).toBeLessThan(16 * 1024 * 1024);
    },
  );

  it("refuses a known caller's body over the route's bound from content-length alone", async () => {
    const out = await sendPartly(objectPath, await signedHeaders(), 40 * 1024 * 1024);
    expect(out.status).toBe(413);
    expect(out.sentBeforeAnswer).toBe(SENT_FIRST);
  });
});
