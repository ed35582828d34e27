// GET /healthz, for load balancers and probes: unauthenticated, 200 while the control endpoint
// answers and 503 while it does not (a real proxy in front of it goes down), and no job or
// account data in either body. Every other route still wants a signature.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";

let proxy: FaultProxy;
let t: TestRuntime;
beforeAll(async () => {
  proxy = await startFaultProxy(inject("emulators").control);
  t = await startTestRuntime({ AWS_ENDPOINT_URL: proxy.url });
});
afterAll(async () => {
  await t?.stop();
  await proxy?.close();
});

async function get(path: string) {
  const res = await fetch(new URL(path, t.runtime.url));
  return { status: res.status, body: await res.text() };
}

describe("/healthz", () => {
  it("answers 200 with the control endpoint up and 503 with it down, and tells nothing else", async () => {
    const up = await get("/healthz");
    await proxy.down();
    let down: Awaited<ReturnType<typeof get>>;
    try {
      down = await get("/healthz");
    } finally {
      await proxy.up();
    }
    const again = await get("/healthz");

    expect(up).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect(down).toEqual({ status: 503, body: '{"status":"unavailable"}' });
    expect(again.status).toBe(200);
  });

  it("is the only route without a signature", async () => {
    for (const path of [
      "/v20180820/jobs",
      "/v20180820/jobs/abcdef/progress",
      "/v20180820/s3batch/object?bucket=pool&key=k",
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(403);
      expect(r.body).toContain("<Code>AccessDenied</Code>");
    }
  });
});
