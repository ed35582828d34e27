// One packaged function, in a process of its own as Lambda runs it: the bundle unpacked from its
// zip, loaded through the handler string of its template entry, with that entry's environment
// (NODE_OPTIONS included). It takes invocations over loopback HTTP: POST / with
// {"event": ..., "remainingMs": n}, and answers the handler's result (or {"errorType", ...}).
// Environment: LAMBDA_BUNDLE_DIR, LAMBDA_HANDLER ("functions/child.handler"), LAMBDA_NAME.
// Plain JavaScript, like the bundle itself: no loader runs inside the function's heap limit.
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.env.LAMBDA_BUNDLE_DIR ?? "";
const handlerString = process.env.LAMBDA_HANDLER ?? "";
const name = process.env.LAMBDA_NAME ?? "function";
const dot = handlerString.lastIndexOf(".");
const file = `${handlerString.slice(0, dot)}.mjs`;
const exported = handlerString.slice(dot + 1);
const mod = await import(pathToFileURL(join(dir, file)).href);
const handler = mod[exported];
if (typeof handler !== "function") throw new Error(`${file} exports no ${exported}`);

let invocations = 0;
const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const { event, remainingMs } = JSON.parse(Buffer.concat(chunks).toString());
  const deadline = Date.now() + remainingMs;
  const context = {
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: `${process.pid}-${++invocations}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(result ?? null));
  } catch (err) {
    res.writeHead(200, { "content-type": "application/json", "x-amz-function-error": "Unhandled" });
    res.end(JSON.stringify({ errorType: err.name, errorMessage: err.message }));
  }
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`LAMBDA_HOST_PORT=${typeof address === "object" && address ? address.port : 0}\n`);
});
