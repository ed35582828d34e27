import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../lib/endpoints/clients.ts";

const s3 = createS3Client({
  endpoint: "http://127.0.0.1:4710",
  region: "us-east-1",
  forcePathStyle: true,
  maxSockets: 64,
} as any);
await s3.send(new PutObjectCommand({ Bucket: "s3batch-bench-merge", Key: "probe", Body: "x".repeat(2000) }));
for (const conc of [1, 8]) {
  const n = 800;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (i++ < n) {
        const o = await s3.send(new GetObjectCommand({ Bucket: "s3batch-bench-merge", Key: "probe" }));
        await o.Body!.transformToString();
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  console.log(
    conc,
    "wall ms/req",
    ((performance.now() - t0) / n).toFixed(2),
    "cpu ms/req",
    ((cpu.user + cpu.system) / 1000 / n).toFixed(2),
  );
}
