// Turns a per-message function into an SQS batch handler with Lambda's partial-failure contract.
// A body that is not a known message version is refused, so it ends in the DLQ untouched.
import type { z } from "zod";
import type { Context } from "../context.ts";
import { UnrecoverableError } from "../errors.ts";
import { processPartialResponse, type SqsBatchResponse, type SqsEvent } from "./partial-batch.ts";

export type SqsHandler = (event: SqsEvent) => Promise<SqsBatchResponse>;

export function sqsHandler<S extends z.ZodType>(
  ctx: Context,
  schema: S,
  run: (ctx: Context, msg: z.output<S>) => Promise<void>,
): SqsHandler {
  return (event) =>
    processPartialResponse(
      event,
      async (body) => {
        const msg = schema.safeParse(body);
        if (!msg.success)
          throw new UnrecoverableError("BadMessage", "the message is not one this handler knows");
        await run(ctx, msg.data);
      },
      ctx.log,
    );
}
