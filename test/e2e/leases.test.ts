// Leases on the real internal bucket: a live holder keeps its step; a holder that stops
// renewing loses it after the lease period; the reconciler's re-drive releases the lapsed lease so
// the next delivery takes it at once; a holder that was taken over finds out at its next write.
import { randomUUID } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { childStep } from "../../lib/children/child-step.ts";
import { type ChildState, initialChildState } from "../../lib/children/state.ts";
import type { Context } from "../../lib/context.ts";
import { createContext } from "../../lib/create-context.ts";
import { ConflictError } from "../../lib/errors.ts";
import { paths } from "../../lib/jobs/paths.ts";
import { leaseAcquire } from "../../lib/leases/lease.ts";
import { ensureBucket, ensureQueues, queueEnv } from "../../lib/provision.ts";
import { loadSettings } from "../../lib/settings.ts";
import { reconcileStep } from "../../lib/steps/step.ts";
import { emulatedEndpoints } from "../../runtime/common/emulated.ts";
import { ACCOUNT_ID, TEST_CREDENTIALS, TEST_ROLES } from "../helpers/clients.ts";

let ctx: Context;
const ref = { accountId: ACCOUNT_ID, jobId: "lease-job", endpointId: "gateway-a", shard: 0 };
const key = () => paths.childState(ref, ref.endpointId, ref.shard);
const span = { firstRow: 0, rowCount: 10, startByte: 0, endByte: 100 };
const options = () => ({
  initial: () => initialChildState(ref, span),
  finished: (s: ChildState) => s.status !== "running",
  leaseMs: ctx.settings.leaseSeconds * 1000,
  log: ctx.log,
});

beforeAll(async () => {
  const emulators = inject("emulators");
  process.env.AWS_ACCESS_KEY_ID ??= TEST_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= TEST_CREDENTIALS.secretAccessKey;
  const sqs = new SQSClient({ region: "us-east-1", endpoint: emulators.control });
  const queues = queueEnv(await ensureQueues(sqs, `l-${randomUUID().slice(0, 8)}`));
  sqs.destroy();
  ctx = createContext(
    loadSettings({
      AWS_ENDPOINT_URL: emulators.control,
      S3BATCH_ENDPOINTS: emulatedEndpoints(emulators, TEST_CREDENTIALS),
      S3BATCH_ROLES: TEST_ROLES,
      S3BATCH_INTERNAL_BUCKET: `s3batch-lease-${randomUUID().slice(0, 8)}`,
      S3BATCH_LEASE_SECONDS: "3",
      S3BATCH_LOG_LEVEL: "error",
      ...queues,
    }),
    "lease-test",
  );
  await ensureBucket(ctx.store.s3, ctx.settings.internalBucket);
});
afterAll(() => ctx?.gateways.destroy());

describe("leases", () => {
  it("hold while renewed, lapse when not, and are released by the reconciler's re-drive", async () => {
    // Prepare: a holder that renews
    const first = await leaseAcquire(ctx.store, key(), "0000000a", options());
    if (first?.kind !== "held") throw new Error("the first delivery did not get the lease");
    first.lease.beat();

    // Act and assess: while it renews, a second delivery finds it busy
    await new Promise((r) => setTimeout(r, 4_000));
    expect((await leaseAcquire(ctx.store, key(), "0000000b", options()))?.kind).toBe("busy");

    // The holder dies (stops renewing): once the lease period passed, poll re-drives the child
    first.lease.stop();
    await new Promise((r) => setTimeout(r, 3_500));
    await reconcileStep(ctx, childStep, { ...ref, priority: 10 });
    const redriven = (await ctx.store.get<ChildState>(key()))?.value;
    expect(redriven?.lease).toBeUndefined();

    // The re-driven delivery takes it at once, though the document was just written
    const second = await leaseAcquire(ctx.store, key(), "0000000c", options());
    expect(second?.kind).toBe("held");
    expect(second?.kind === "held" && second.lease.value).toMatchObject({ attempts: 2, stalled: 2 });

    // The dead holder, come back, cannot write: its lease is lost
    await expect(first.lease.update((s) => ({ ...s, nextRow: 5 }))).rejects.toBeInstanceOf(ConflictError);
    expect(first.lease.lost.aborted).toBe(true);
    if (second?.kind === "held") second.lease.stop();
  }, 30_000);
});
