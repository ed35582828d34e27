// A real HTTP proxy on a real socket in front of a gateway, for fault tests: it can refuse
// connections for a while (the listening socket closed and every open connection dropped), answer
// a share of requests with 503 SlowDown, answer 503 SlowDown above a request rate (as S3 does per
// prefix), reset a share of connections mid-request, and count the requests it sees (in flight at
// once, and by kind when given a classifier). Nothing in the code under test is stubbed: the SDK meets
// the failure on the wire.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";

export interface FaultProxy {
  url: string;
  port: number;
  /** Share of requests answered 503 SlowDown (0..1). */
  slowDownRate: number;
  /** Share of requests whose connection is reset before any answer (0..1). */
  resetRate: number;
  /** Forward requests without If-Match and If-None-Match: a store that ignores conditional writes. */
  stripConditionalHeaders: boolean;
  /** Requests per second let through (a token bucket of one second's burst); the rest get 503 SlowDown. */
  rateLimit: number | undefined;
  readonly stats: {
    requests: number;
    slowDowns: number;
    resets: number;
    refusedSince?: number;
    peakInFlight: number;
    /** Requests forwarded, by the kind `classify` gave them. */
    byKind: Record<string, number>;
  };
  /** Stops accepting connections and drops the open ones: clients get ECONNREFUSED/ECONNRESET. */
  down(): Promise<void>;
  /** Accepts connections again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startFaultProxy(
  target: string,
  random: () => number = Math.random,
  /** Names a forwarded request's kind (its method and path say), for `stats.byKind`. */
  classify?: (req: IncomingMessage) => string,
): Promise<FaultProxy> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let inFlight = 0;
  const stats: FaultProxy["stats"] = { requests: 0, slowDowns: 0, resets: 0, peakInFlight: 0, byKind: {} };
  const bucket = { tokens: 0, at: 0 };
  /** Takes a token of the rate limit; false when none is left this second. */
  const admit = (): boolean => {
    const rate = proxy.rateLimit;
    if (rate === undefined) return true;
    const now = performance.now();
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, inFlight);
    let ended = false;
    const end = () => {
      if (!ended) inFlight--;
      ended = true;
    };
    res.on("close", end);
    if (random() < proxy.resetRate) {
      stats.resets++;
      req.socket.destroy();
      return;
    }
    if (random() < proxy.slowDownRate || !admit()) {
      stats.slowDowns++;
      req.resume();
      req.on("end", () => {
        res.writeHead(503, {
          "content-type": "application/xml",
          "content-length": Buffer.byteLength(SLOW_DOWN),
        });
        res.end(SLOW_DOWN);
      });
      return;
    }
    if (classify) {
      const kind = classify(req);
      stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    }
    const headers = { ...req.headers };
    if (proxy.stripConditionalHeaders) {
      delete headers["if-match"];
      delete headers["if-none-match"];
    }
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  };
  let server: Server = createServer(handle);
  const track = (s: Server) =>
    s.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
  track(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    slowDownRate: 0,
    resetRate: 0,
    stripConditionalHeaders: false,
    rateLimit: undefined,
    stats,
    async down() {
      const s = server;
      const closed = new Promise<void>((r) => s.close(() => r()));
      for (const socket of sockets) socket.destroy();
      await closed;
      stats.refusedSince = Date.now();
    },
    async up() {
      server = createServer(handle);
      track(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
      });
      delete stats.refusedSince;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return proxy;
}
