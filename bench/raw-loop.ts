// The hand-tuned loop s3batch is measured against: the AWS SDK v3 with a keep-alive pool, N
// requests in flight, one PutObjectTagging per key. Run by bench/tasks.ts in a process of its own.
// Usage: node --import tsx bench/raw-loop.ts <endpoint> <bucket> <prefix> <count> <concurrency>
// Prints one JSON line: tasks, wall ms, CPU ms (user + system of this process during the loop).

import { Agent } from "node:http";
import { PutObjectTaggingCommand, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const [endpoint, bucket, prefix, countArg, concurrencyArg] = process.argv.slice(2);
if (!endpoint || !bucket || prefix === undefined || !countArg || !concurrencyArg) {
  console.error("usage: raw-loop.ts <endpoint> <bucket> <prefix> <count> <concurrency>");
  process.exit(2);
}
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
const s3 = new S3Client({
  region: "us-east-1",
  endpoint,
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "test",
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "test",
  },
  requestHandler: new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets: concurrency }),
  }),
});
const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(6, "0")}`);
const TagSet = [{ Key: "bench", Value: "raw" }];

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let next = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < keys.length; i = next++) {
      try {
        await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: keys[i], Tagging: { TagSet } }));
      } catch {
        failed++;
      }
    }
  }),
);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    tasks: count,
    failed,
    ms: Math.round(ms),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  }),
);
s3.destroy();
