#!/usr/bin/env node
// The s3batch CLI under Node: TypeScript through tsx. Under Deno: deno run -A cli/main.ts
import { register } from "tsx/esm/api";

// The AWS SDK warns on every start about Node versions to come; a CLI keeps stderr for the job.
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (!`${w.name} ${w.message}`.includes("NodeVersionSupportWarning")) process.stderr.write(`${w.name}: ${w.message}\n`);
});
register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
