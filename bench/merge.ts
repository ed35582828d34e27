// Merge throughput and memory at scale: for each (rows, endpoints) configuration, a synthetic job
// (see test/helpers/synthetic-job.ts) is merged by the real merge, then the I/O floor is measured:
// the same input objects stream-read and objects of the report's sizes written, by the same
// kind of process against the same emulators. Each step runs in its own process (peak RSS is the
// kernel's high-water mark of that process), with the merge function's deployed heap setting; the
// merge runs a second time with V8's default heap sizing for comparison. The report's MD5s are
// checked against a reference computed row by row. Prints one JSON document and a table.
// Run: npm run bench:merge [-- --rows 1000000,10000000 --endpoints 2,4]
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulators } from "../runtime/local/emulators.ts";
import { TEST_ROLES } from "../test/helpers/clients.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return (i > 0 ? process.argv[i + 1] : undefined) ?? def;
};
const rowCounts = arg("rows", "1000000,10000000").split(",").map(Number);
const endpointCounts = arg("endpoints", "2,4").split(",").map(Number);

const urls = startEmulators();
const here = dirname(fileURLToPath(import.meta.url));
const ids = ["a", "b", "c", "d", "e", "f"];
// Only endpoint "a" is contacted by the merge (manifest and report bucket live there); the
// others are endpoints whose children's outputs the merge reads from the internal bucket.
const endpointDoc = (n: number) =>
  JSON.stringify(
    ids.slice(0, n).map((id, i) => ({
      id,
      url: i % 2 === 0 ? urls.gatewayA : urls.gatewayB,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    })),
  );
const none = "http://127.0.0.1:9/unused";

/** The merge and dispatch functions' heap setting in serverless.yml: figures are taken as deployed. */
const DEPLOYED_HEAP = ["--max-old-space-size=64"];

function step<T>(mode: string, env: Record<string, string>, flags: string[] = DEPLOYED_HEAP): T {
  const out = execFileSync(
    process.execPath,
    [...flags, "--import", "tsx", join(here, "merge-worker.ts"), mode],
    {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: "1",
        AWS_ENDPOINT_URL: urls.control,
        S3BATCH_INTERNAL_BUCKET: "s3batch-bench-merge",
        S3BATCH_QUEUE_URL_DISPATCH: none,
        S3BATCH_QUEUE_URL_CHILD: none,
        S3BATCH_QUEUE_URL_POLL: none,
        S3BATCH_QUEUE_URL_MERGE: none,
        S3BATCH_LOG_LEVEL: "warn",
        ...env,
      },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as T;
}

interface Setup {
  setupSeconds: number;
  expected: { succeeded: number; failed: number; md5: Record<string, string> };
}
interface Merge {
  seconds: number;
  peakRssMiB: number;
  status: string;
  progress: { succeeded: number; failed: number };
  sizes: Record<string, number>;
  md5: Record<string, string>;
}
interface Timed {
  seconds: number;
  peakRssMiB: number;
}

const results = [];
for (const rows of rowCounts) {
  for (const endpoints of endpointCounts) {
    const env = {
      BENCH_ROWS: String(rows),
      BENCH_ENDPOINTS: ids.slice(0, endpoints).join(","),
      S3BATCH_ENDPOINTS: endpointDoc(endpoints),
      S3BATCH_ROLES: TEST_ROLES,
    };
    const setup = step<Setup>("setup", env);
    const merge = step<Merge>("merge", env);
    // The same merge with V8's default heap sizing, which lets garbage grow while memory is free.
    const defaultHeap = step<Merge>("merge", env, []);
    const floor = step<Timed & { bytesRead: number; bytesWritten: number }>("floor", {
      ...env,
      BENCH_REPORT_SIZES: JSON.stringify(merge.sizes),
    });
    const dispatch =
      endpoints === endpointCounts[0]
        ? step<Timed & { shards: number; offsetsMatch: boolean }>("dispatch", env)
        : undefined;
    const exact =
      merge.status === "Complete" &&
      merge.progress.succeeded === setup.expected.succeeded &&
      merge.progress.failed === setup.expected.failed &&
      merge.md5.succeeded === setup.expected.md5.succeeded &&
      merge.md5.failed === setup.expected.md5.failed &&
      defaultHeap.md5.succeeded === merge.md5.succeeded &&
      defaultHeap.md5.failed === merge.md5.failed;
    results.push({
      rows,
      endpoints,
      mergeSeconds: round(merge.seconds),
      rowsPerSecond: Math.round(rows / merge.seconds),
      mergePeakRssMiB: round(merge.peakRssMiB),
      defaultHeapSeconds: round(defaultHeap.seconds),
      defaultHeapPeakRssMiB: round(defaultHeap.peakRssMiB),
      floorSeconds: round(floor.seconds),
      floorPeakRssMiB: round(floor.peakRssMiB),
      mergeOverFloor: round(merge.seconds / floor.seconds),
      bytesRead: floor.bytesRead,
      reportBytes: floor.bytesWritten,
      reportExact: exact,
      ...(dispatch
        ? {
            dispatchSeconds: round(dispatch.seconds),
            dispatchRowsPerSecond: Math.round(rows / dispatch.seconds),
            dispatchPeakRssMiB: round(dispatch.peakRssMiB),
            dispatchShards: dispatch.shards,
            dispatchOffsetsMatch: dispatch.offsetsMatch,
          }
        : {}),
    });
    process.stderr.write(`done: ${rows} rows × ${endpoints} endpoints\n`);
  }
}

function round(n: number) {
  return Math.round(n * 100) / 100;
}

console.log(JSON.stringify({ bench: "merge", results }, null, 2));
console.table(
  results.map((r) => ({
    rows: r.rows,
    endpoints: r.endpoints,
    "merge s": r.mergeSeconds,
    "rows/s": r.rowsPerSecond,
    "peak RSS MiB": r.mergePeakRssMiB,
    "default-heap RSS MiB": r.defaultHeapPeakRssMiB,
    "floor s": r.floorSeconds,
    "merge/floor": r.mergeOverFloor,
    exact: r.reportExact,
    "dispatch rows/s": r.dispatchRowsPerSecond ?? "",
    "dispatch RSS MiB": r.dispatchPeakRssMiB ?? "",
  })),
);
