// A Context over the in-memory fakes, with settings read by the real loadSettings from a small
// environment: what the unit tests of the steps run on. Log lines are kept for the test to read.
import { Authority } from "../../lib/auth/authorize.ts";
import type { Context } from "../../lib/context.ts";
import { EndpointClients } from "../../lib/endpoints/clients.ts";
import { loadSettings } from "../../lib/settings.ts";
import { createLogger } from "../../lib/util/logger.ts";
import { MemoryQueue } from "./memory-queue.ts";
import { MemoryStore } from "./memory-store.ts";

export type FakeContext = Context & { store: MemoryStore; queue: MemoryQueue; lines: string[] };

export function fakeContext(env: Record<string, string> = {}): FakeContext {
  const settings = loadSettings({
    S3BATCH_ENDPOINTS: JSON.stringify([
      { id: "gateway-a", url: "http://127.0.0.1:9", credentials: { accessKeyId: "k", secretAccessKey: "s" } },
    ]),
    S3BATCH_QUEUE_URL_DISPATCH: "memory://dispatch",
    S3BATCH_QUEUE_URL_CHILD: "memory://child",
    S3BATCH_QUEUE_URL_POLL: "memory://poll",
    S3BATCH_QUEUE_URL_MERGE: "memory://merge",
    S3BATCH_LEASE_SECONDS: "10",
    S3BATCH_MAX_ATTEMPTS: "3",
    ...env,
  });
  const lines: string[] = [];
  return {
    settings,
    store: new MemoryStore(),
    queue: new MemoryQueue(),
    gateways: new EndpointClients([]),
    log: createLogger("test", "debug", (l) => lines.push(l)),
    auth: new Authority(settings.roles, settings.internalBucket),
    workerId: "test-worker",
    lines,
  };
}
