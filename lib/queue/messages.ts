// The SQS messages between functions. Every body carries a schema version `v`; a handler that
// meets a version it does not know refuses the message (it lands in the DLQ) instead of guessing.
import { z } from "zod";

const jobRef = {
  v: z.literal(1),
  accountId: z.string().regex(/^\d{12}$/),
  jobId: z.string().regex(/^[a-zA-Z0-9\-_]{5,36}$/),
};

export const dispatchMessage = z.object({ type: z.literal("dispatch"), ...jobRef });
export const childMessage = z.object({
  type: z.literal("child"),
  ...jobRef,
  shard: z.number().int().min(0),
  endpointId: z.string().min(1).max(63),
  priority: z.number().int().min(0),
});
export const pollMessage = z.object({
  type: z.literal("poll"),
  ...jobRef,
  /** A chained poll re-enqueues itself until the job leaves Active; a nudge from a child does not. */
  chain: z.boolean(),
});
export const mergeMessage = z.object({ type: z.literal("merge"), ...jobRef });

export type DispatchMessage = z.infer<typeof dispatchMessage>;
export type ChildMessage = z.infer<typeof childMessage>;
export type PollMessage = z.infer<typeof pollMessage>;
export type MergeMessage = z.infer<typeof mergeMessage>;
export type PipelineMessage = DispatchMessage | ChildMessage | PollMessage | MergeMessage;
export type QueueName = PipelineMessage["type"];
