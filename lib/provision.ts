// Creates locally what serverless.yml creates on AWS, on the control endpoint: the internal bucket (with
// the abort-incomplete-multipart lifecycle rule) and the four queues, each with a DLQ.
import {
  CreateBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { QueueName } from "./steps/messages.ts";
import type { QueueUrls } from "./steps/queue.ts";

/**
 * The queues' settings. Visibility is short (the loops extend it while a message runs), so the
 * messages of a process that dies come back in seconds; receives before the DLQ as on Lambda.
 */
export const QUEUE_SETTINGS = {
  visibilityTimeout: 10,
  maxReceiveCount: { dispatch: 5, child: 5, poll: 10, merge: 5 } satisfies Record<QueueName, number>,
};

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof S3ServiceException && /BucketAlready(OwnedByYou|Exists)/.test(err.name))) throw err;
  }
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: [
          {
            ID: "abort-incomplete-multipart",
            Status: "Enabled",
            Filter: { Prefix: "" },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    }),
  );
}

/** Creates (or finds) the queues named `<prefix>-<name>` and their DLQs; returns the queue URLs. */
export async function ensureQueues(
  sqs: SQSClient,
  prefix: string,
  { maxReceiveCount }: { maxReceiveCount?: number } = {},
): Promise<QueueUrls> {
  const urls = {} as QueueUrls;
  for (const name of Object.keys(QUEUE_SETTINGS.maxReceiveCount) as QueueName[]) {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${name}-dlq` }));
    const dlqArn = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${prefix}-${name}`,
        Attributes: {
          VisibilityTimeout: String(QUEUE_SETTINGS.visibilityTimeout),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn.Attributes?.QueueArn,
            maxReceiveCount: maxReceiveCount ?? QUEUE_SETTINGS.maxReceiveCount[name],
          }),
        },
      }),
    );
    urls[name] = q.QueueUrl ?? "";
  }
  return urls;
}

/** The environment variables that name the pipeline queues. */
export function queueEnv(urls: QueueUrls): Record<string, string> {
  return {
    S3BATCH_QUEUE_URL_DISPATCH: urls.dispatch,
    S3BATCH_QUEUE_URL_CHILD: urls.child,
    S3BATCH_QUEUE_URL_POLL: urls.poll,
    S3BATCH_QUEUE_URL_MERGE: urls.merge,
  };
}
