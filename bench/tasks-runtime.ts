// The s3batch side of `npm run bench:tasks`: the local runtime with its default settings, in a
// process of its own so its CPU can be read from /proc. Settings come from the environment, as for
// `npm start`. It prints `URL=<api url>` once ready; a line `stats` on stdin prints, as JSON, the
// handler invocations per queue and the milliseconds they ran (what Lambda would bill).
import { createInterface } from "node:readline";
import { loadSettings } from "../lib/settings.ts";
import { startLocalRuntime } from "../runtime/local/runtime.ts";

const stats: Record<string, { invocations: number; ms: number }> = {};
const settings = loadSettings(process.env);
const runtime = await startLocalRuntime({
  settings,
  port: 0,
  wrap: (queue, handler) => async (event, invocation) => {
    const at = performance.now();
    try {
      return await handler(event, invocation);
    } finally {
      const s = stats[queue] ?? { invocations: 0, ms: 0 };
      stats[queue] = s;
      s.invocations++;
      s.ms += performance.now() - at;
    }
  },
});
console.log(`URL=${runtime.url}`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "stats") console.log(`STATS=${JSON.stringify(stats)}`);
  if (line.trim() === "stop") break;
}
await runtime.stop();
process.exit(0);
