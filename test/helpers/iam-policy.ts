// IAM, played on the wire: a proxy in front of the control endpoint maps every request the
// functions send to its IAM action and resource ARN as AWS documents them (S3 REST in path style,
// SQS's JSON protocol, where a batch needs its single action), records it, and refuses what the
// role's statements do not allow with AWS's own AccessDenied answer, so the SDK meets the refusal
// as it would on AWS. (moto_server's IAM enforcement was tried first: it refuses valid signatures
// of list requests whose prefix has a '/', and names batch and HEAD actions unlike AWS, so it
// cannot judge this code; docs/decisions.md.)
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import { Policy } from "../../lib/auth/policy.ts";

export interface Needed {
  action: string;
  resource: string;
  /** The request, for a readable failure. */
  what: string;
  /** The control endpoint's answer. */
  status?: number;
}

export interface Statement {
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
}

/** Whether the statements allow `action` on `resource`, evaluated as s3batch evaluates a job's role. */
export function allowed(statements: Statement[], action: string, resource: string): boolean {
  // A statement left with no action (the test takes them away one by one) allows nothing.
  const kept = statements.filter((s) => [s.Action].flat().length > 0);
  if (kept.length === 0) return false;
  return Policy.parse({ Version: "2012-10-17", Statement: kept }).evaluate(action, resource) === "Allowed";
}

/** The IAM action and resource of one S3 REST request (path style). */
export function s3Needs(method: string, url: URL): Needed {
  const [, bucket = "", ...rest] = url.pathname.split("/");
  const key = decodeURIComponent(rest.join("/"));
  const q = url.searchParams;
  const what = `${method} ${url.pathname}${url.search}`;
  const object = `arn:aws:s3:::${bucket}/${key}`;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  if (!bucket) return { action: "s3:ListAllMyBuckets", resource: "*", what };
  if (!key) {
    if (method === "GET" && q.has("uploads"))
      return { action: "s3:ListBucketMultipartUploads", resource: bucketArn, what };
    if (method === "GET" || method === "HEAD") return { action: "s3:ListBucket", resource: bucketArn, what };
    if (method === "PUT" && q.has("lifecycle"))
      return { action: "s3:PutLifecycleConfiguration", resource: bucketArn, what };
    if (method === "PUT") return { action: "s3:CreateBucket", resource: bucketArn, what };
    return { action: `s3:${method}Bucket?`, resource: bucketArn, what };
  }
  if (method === "GET" || method === "HEAD") return { action: "s3:GetObject", resource: object, what };
  if (method === "DELETE" && q.has("uploadId"))
    return { action: "s3:AbortMultipartUpload", resource: object, what };
  if (method === "DELETE") return { action: "s3:DeleteObject", resource: object, what };
  if (method === "PUT" || method === "POST") return { action: "s3:PutObject", resource: object, what };
  return { action: `s3:${method}Object?`, resource: object, what };
}

/** The IAM action and resource of one SQS JSON-protocol request. */
export function sqsNeeds(target: string, body: string, account: string, region: string): Needed {
  const op = target.replace(/^AmazonSQS\./, "").replace(/Batch$/, "");
  const url = (JSON.parse(body || "{}") as { QueueUrl?: string }).QueueUrl ?? "";
  const name = url.slice(url.lastIndexOf("/") + 1);
  return {
    action: `sqs:${op}`,
    resource: `arn:aws:sqs:${region}:${account}:${name}`,
    what: `${target} ${name}`,
  };
}

/** The refusal AWS answers with, in the protocol of the request. */
function accessDenied(
  need: Needed,
  sqs: boolean,
): { status: number; headers: Record<string, string>; body: string } {
  const message = `User is not authorized to perform: ${need.action} on resource: ${need.resource}`;
  if (sqs)
    return {
      status: 400,
      headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-query-error": "AccessDenied;Sender" },
      body: JSON.stringify({ __type: "com.amazon.coral.service#AccessDeniedException", message }),
    };
  return {
    status: 403,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`,
  };
}

/**
 * A proxy in front of the control endpoint that records what each request needs and refuses
 * what `statements()` does not allow.
 */
export async function startEnforcingProxy(
  target: string,
  statements: () => Statement[],
  account: string,
  region: string,
): Promise<{ url: string; needed: Needed[]; close(): Promise<void> }> {
  const to = new URL(target);
  const needed: Needed[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const amzTarget = req.headers["x-amz-target"];
    const sqs = typeof amzTarget === "string";
    const need = sqs
      ? sqsNeeds(amzTarget, body.toString(), account, region)
      : s3Needs(req.method ?? "GET", new URL(req.url ?? "/", "http://x"));
    needed.push(need);
    if (!allowed(statements(), need.action, need.resource)) {
      const refusal = accessDenied(need, sqs);
      need.status = refusal.status;
      res.writeHead(refusal.status, refusal.headers);
      res.end(refusal.body);
      return;
    }
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        need.status = up.statusCode;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => req.socket.destroy());
    upstream.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    needed,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
