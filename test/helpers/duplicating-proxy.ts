// A proxy in front of the control endpoint that delivers every pipeline message twice, on the
// wire: each SendMessage or SendMessageBatch is forwarded twice (the caller gets the first answer),
// so any runtime behind it (Node or Deno) meets SQS's at-least-once delivery at its worst. It
// keeps what was sent, so a test can deliver all of it once more later.
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";

export interface DuplicatingProxy {
  url: string;
  /** Turns doubling on or off. */
  doubling: boolean;
  /** Every message body sent through the proxy, with its queue URL. */
  readonly sent: { queueUrl: string; body: string }[];
  close(): Promise<void>;
}

export async function startDuplicatingProxy(target: string): Promise<DuplicatingProxy> {
  const to = new URL(target);
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
      (resolve, reject) => {
        const up = httpRequest(
          { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
          async (res) => {
            const chunks: Buffer[] = [];
            for await (const c of res) chunks.push(c as Buffer);
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
          },
        );
        up.on("error", reject);
        up.end(body);
      },
    );
  const proxy: DuplicatingProxy = {
    url: "",
    doubling: true,
    sent: [],
    close: async () => {},
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const op = String(req.headers["x-amz-target"] ?? "");
    const send = op === "AmazonSQS.SendMessage" || op === "AmazonSQS.SendMessageBatch";
    if (send) {
      const doc = JSON.parse(body.toString()) as {
        QueueUrl: string;
        MessageBody?: string;
        Entries?: { MessageBody: string }[];
      };
      for (const m of doc.Entries ?? [{ MessageBody: doc.MessageBody ?? "" }])
        proxy.sent.push({ queueUrl: doc.QueueUrl, body: m.MessageBody });
    }
    try {
      const first = await forward(req, body);
      if (send && proxy.doubling) await forward(req, body);
      res.writeHead(first.status, first.headers);
      res.end(first.body);
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  proxy.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return proxy;
}
