// Runs the real merge of a synthetic job in its own process and kills that process (SIGKILL, no
// clean-up of any kind) the moment its first report part has been uploaded: a merge that dies
// midway, as a Lambda timeout or an OOM kill would leave it. Environment: as bench/merge-worker.ts,
// plus MERGE_JOB_ID and MERGE_HOME (the endpoint holding the report bucket).
import { budgetOf } from "../../lib/budget.ts";
import { createContext } from "../../lib/create-context.ts";
import { mergeJob } from "../../lib/merge/merge.ts";
import { loadSettings } from "../../lib/settings.ts";

const ctx = createContext(loadSettings(process.env), "merge");
ctx.gateways.get(process.env.MERGE_HOME ?? "").s3.middlewareStack.add(
  (next, context) => async (args) => {
    const out = await next(args);
    if (context.commandName === "UploadPartCommand") process.kill(process.pid, "SIGKILL");
    return out;
  },
  { step: "initialize", name: "dieAfterFirstPart" },
);
await mergeJob(
  ctx,
  { v: 1, type: "merge", accountId: "123456789012", jobId: process.env.MERGE_JOB_ID ?? "" },
  budgetOf(600_000, ctx.settings),
);
process.stdout.write("merge finished without being killed\n");
