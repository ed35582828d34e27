// An outbound HTTP request to a host taken from user input, sent to the very addresses that were
// checked: on Node (and Lambda) the connection's DNS lookup answers only those addresses, so a
// name that resolves differently a moment later (DNS rebinding) cannot move the request. Deno has
// no such hook; there the request is sent by fetch after the check. Web-standard code elsewhere
// reaches Node's modules through process.getBuiltinModule, as lib/env.ts does.
import { S3BatchError } from "../errors.ts";

type Lookup = (hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => void;

interface NodeDns {
  promises: { lookup(host: string, o: { all: true }): Promise<{ address: string; family: number }[]> };
}
interface NodeRequestModule {
  request(
    url: URL,
    o: { method: string; headers: Record<string, string>; lookup: Lookup; signal: AbortSignal },
    onResponse: (res: {
      statusCode?: number;
      headers: Record<string, string | string[] | undefined>;
      resume(): void;
    }) => void,
  ): { on(event: "error", f: (e: Error) => void): void; end(body: string): void };
}
type Runtime = {
  process?: { getBuiltinModule?: (id: string) => unknown };
  Deno?: { resolveDns(host: string, type: "A" | "AAAA"): Promise<string[]> };
};

export class ResolveError extends S3BatchError {}

const node = (id: string) =>
  (globalThis as Runtime).Deno ? undefined : (globalThis as Runtime).process?.getBuiltinModule?.(id);

/** Every address `host` resolves to (an IP literal is its own address). */
export async function resolveAll(host: string): Promise<string[]> {
  const dns = node("node:dns") as NodeDns | undefined;
  try {
    if (dns) return (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
    const deno = (globalThis as Runtime).Deno;
    if (deno) {
      const found = await Promise.all(
        (["A", "AAAA"] as const).map((t) => deno.resolveDns(host, t).catch(() => [] as string[])),
      );
      return found.flat();
    }
  } catch (err) {
    throw new ResolveError(`${host} does not resolve (${(err as { code?: string }).code ?? "no answer"})`);
  }
  throw new ResolveError("this runtime cannot resolve host names");
}

export interface PinnedAnswer {
  status: number;
  location?: string;
}

/** POSTs `body` to `url`, connecting only to `addresses`; never follows a redirect itself. */
export async function pinnedPost(
  url: URL,
  addresses: readonly string[],
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<PinnedAnswer> {
  const mod = node(url.protocol === "https:" ? "node:https" : "node:http") as NodeRequestModule | undefined;
  if (!mod) {
    const res = await fetch(url, { method: "POST", headers, body, signal, redirect: "manual" });
    await res.body?.cancel();
    const location = res.headers.get("location");
    return { status: res.status, ...(location ? { location } : {}) };
  }
  const pinned = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  const lookup: Lookup = (_host, options, callback) => {
    const first = pinned[0];
    if (options.all) callback(null, pinned);
    else callback(null, first?.address, first?.family);
  };
  return new Promise<PinnedAnswer>((resolve, reject) => {
    const req = mod.request(url, { method: "POST", headers, lookup, signal }, (res) => {
      res.resume();
      const location = res.headers.location;
      resolve({ status: res.statusCode ?? 0, ...(typeof location === "string" ? { location } : {}) });
    });
    req.on("error", reject);
    req.end(body);
  });
}
