// Turns a per-message function into an SQS batch handler with Lambda's partial-failure contract
// and the error taxonomy of errors.ts:
//   a body that is not a known message   recorded (dead-letters/) and acknowledged
//   UnrecoverableError                   recorded on the job's event log and acknowledged
//   anything else                        retried: the message comes back after the policy's delay
import type { z } from "zod";
import { type Budget, budgetOf, type InvocationContext } from "../budget.ts";
import type { Context } from "../context.ts";
import { UnrecoverableError } from "../errors.ts";
import { paths } from "../jobs/paths.ts";
import { jobEvent } from "../jobs/store.ts";
import {
  processPartialResponse,
  type SqsBatchResponse,
  type SqsEvent,
  type SqsRecord,
} from "../queue/partial-batch.ts";
import { redeliveryDelaySeconds } from "../retry/policy.ts";

export type SqsHandler = (event: SqsEvent, invocation?: InvocationContext) => Promise<SqsBatchResponse>;

type Deps = Pick<Context, "store" | "queue" | "settings" | "log">;

/** Parses a record's body against `schema`; undefined when it is not such a message. */
export function parseRecord<S extends z.ZodType>(schema: S, record: SqsRecord): z.output<S> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return undefined;
  }
  const msg = schema.safeParse(body);
  return msg.success ? msg.data : undefined;
}

/** Keeps a message no handler could read, for the operator: dead-letters/<day>/… */
export async function recordBadMessage(ctx: Deps, record: SqsRecord, why: string): Promise<void> {
  const at = new Date().toISOString();
  ctx.log.error("message dropped", { messageId: record.messageId, why, queue: record.eventSourceARN });
  await ctx.store.putBytes(
    paths.deadLetter(at, record.messageId.replace(/[^A-Za-z0-9-]/g, "").slice(0, 64)),
    JSON.stringify({ at, why, queue: record.eventSourceARN, body: record.body.slice(0, 4096) }),
    "application/json",
  );
}

/** Sets when a failed record comes back (Lambda would wait the whole visibility timeout). */
export function delayRedelivery(ctx: Pick<Context, "queue">) {
  return async (record: SqsRecord): Promise<void> => {
    if (!record.receiptHandle || !record.eventSourceARN) return;
    const receives = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    await ctx.queue.retryLater(record.eventSourceARN, record.receiptHandle, redeliveryDelaySeconds(receives));
  };
}

export function sqsHandler<S extends z.ZodType>(
  ctx: Context,
  schema: S,
  run: (ctx: Context, msg: z.output<S>, budget: Budget) => Promise<void>,
): SqsHandler {
  return (event, invocation) =>
    processPartialResponse(
      event,
      (record) => runRecord(ctx, schema, run, record, invocation),
      ctx.log,
      delayRedelivery(ctx),
    );
}

/** One record through the taxonomy above. */
export async function runRecord<S extends z.ZodType>(
  ctx: Context,
  schema: S,
  run: (ctx: Context, msg: z.output<S>, budget: Budget) => Promise<void>,
  record: SqsRecord,
  invocation: InvocationContext | undefined,
): Promise<void> {
  const msg = parseRecord(schema, record);
  if (msg === undefined) return recordBadMessage(ctx, record, "not a message this handler knows");
  const budget = budgetOf(
    invocation?.getRemainingTimeInMillis() ?? ctx.settings.budgetSeconds * 1000,
    ctx.settings,
  );
  try {
    await run(ctx, msg, budget);
  } catch (err) {
    if (!(err instanceof UnrecoverableError)) throw err;
    const ref = msg as { accountId?: string; jobId?: string };
    ctx.log.error("unrecoverable", { jobId: ref.jobId, code: err.code, message: err.message });
    if (ref.accountId && ref.jobId)
      await jobEvent(ctx.store, { accountId: ref.accountId, jobId: ref.jobId }, "unrecoverable", {
        code: err.code,
        message: err.message.slice(0, 512),
        messageType: (msg as { type?: string }).type,
      });
  }
}
