// The SQS messages between functions. Every body carries a schema version `v`; a handler that
// meets a version it does not know records the message and drops it instead of guessing.
import { z } from "zod";
import { JOB_ID_PATTERN } from "../jobs/model.ts";

const jobRef = {
  v: z.literal(1),
  accountId: z.string().regex(/^\d{12}$/),
  jobId: z.string().regex(JOB_ID_PATTERN),
};

export const dispatchMessage = z.object({ type: z.literal("dispatch"), ...jobRef });
const count = z
  .number()
  .int()
  .min(0)
  .max(2 ** 53);
const token = z.string().regex(/^[0-9a-f]{8}$/);

export const childMessage = z.object({
  type: z.literal("child"),
  ...jobRef,
  shard: z.number().int().min(0),
  endpointId: z.string().min(1).max(63),
  priority: z.number().int().min(0),
  /** The shard's rows and bytes, so a child needs only the plan's summary. */
  span: z.object({ firstRow: count, rowCount: count, startByte: count, endByte: count }),
});
export const pollMessage = z.object({
  type: z.literal("poll"),
  ...jobRef,
  /**
   * A chained poll sends its successor until the job ends (or waits in Suspended); `token` and
   * `prev` keep one chain per job (see reconcile/poll-chain.ts). A nudge from a child does not chain.
   */
  chain: z.boolean(),
  token: token.optional(),
  prev: token.optional(),
});
export const mergeMessage = z.object({ type: z.literal("merge"), ...jobRef });

export type DispatchMessage = z.infer<typeof dispatchMessage>;
export type ChildMessage = z.infer<typeof childMessage>;
export type PollMessage = z.infer<typeof pollMessage>;
export type MergeMessage = z.infer<typeof mergeMessage>;
export type PipelineMessage = DispatchMessage | ChildMessage | PollMessage | MergeMessage;
export type QueueName = PipelineMessage["type"];

/** Any pipeline message: what a dead-letter queue holds. */
export const anyMessage = z.union([dispatchMessage, childMessage, pollMessage, mergeMessage]);
