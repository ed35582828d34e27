// Where a job's notifications may go. A target is parsed, never compared as a string: an http(s)
// URL without credentials, inside S3BATCH_NOTIFY_TARGETS when that is set (scheme, host and port
// equal, path under the allowed one), or exactly one of the SQS queues the operator configured
// (S3BATCH_NOTIFY_QUEUES): a queue-looking URL of any other host is refused, so the deployment's
// signed SQS requests never go to a host taken from a job. A webhook's host must be a public
// unicast address (loopback, private, link-local and metadata, unique-local, CGNAT and the other
// special ranges are refused, as literals, after DNS and on every redirect) unless the operator
// allows its network (S3BATCH_NOTIFY_ALLOW_NETWORKS). Only scheme, host and port are ever shown.
import ipaddr from "ipaddr.js";
import { S3ControlError } from "../errors.ts";

export const NOTIFY_TAG = "s3batch:notify";

/** An SQS queue URL's path: /<account>/<queue>, or LocalStack's /queue/<region>/<account>/<queue>. */
const SQS_PATH = /^(\/queue\/[a-z0-9-]+)?\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?\/?$/;

export interface TargetPolicy {
  /** URL prefixes a target must fall under (empty: any public host). */
  allowed: readonly string[];
  /** The SQS queue URLs a job may name. */
  queues: readonly string[];
  /** CIDR networks a webhook may reach although they are not public. */
  allowNetworks: readonly string[];
}

export type Target = { kind: "queue"; url: string } | { kind: "webhook"; url: URL };

/** A target refused: the message shows scheme, host and port only. */
export class TargetRefusedError extends S3ControlError {
  constructor(message: string) {
    super("InvalidRequestException", 400, message);
  }
}

/** What a log line or an event may say of a target: scheme, host and port. */
export function shownTarget(url: string | URL): string {
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(not a URL)";
  }
}

const defaultPort = (u: URL) => u.port || (u.protocol === "https:" ? "443" : "80");

/** Whether `u` falls under the allowed prefix: same scheme, host and port, path at a segment boundary. */
function under(u: URL, prefix: string): boolean {
  let p: URL;
  try {
    p = new URL(prefix);
  } catch {
    return false;
  }
  if (p.protocol !== u.protocol || p.hostname !== u.hostname || defaultPort(p) !== defaultPort(u))
    return false;
  const base = p.pathname;
  return base === "/" || u.pathname === base || u.pathname.startsWith(base.endsWith("/") ? base : `${base}/`);
}

/** Whether an address may be reached: public unicast, or inside a network the operator allows. */
export function addressAllowed(address: string, allowNetworks: readonly string[]): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(address.replace(/^\[|\]$/g, ""));
  } catch {
    return false;
  }
  for (const net of allowNetworks) {
    try {
      const range = ipaddr.parseCIDR(net);
      if (addr.kind() === range[0].kind() && addr.match(range as never)) return true;
    } catch {
      // a malformed entry allows nothing
    }
  }
  return addr.range() === "unicast";
}

const refused = (u: URL | string, why: string) =>
  new TargetRefusedError(`${NOTIFY_TAG} ${typeof u === "string" ? u : shownTarget(u)} is refused: ${why}`);

/**
 * Parses and checks a target without touching the network (CreateJob, PutJobTagging, and again
 * before every delivery). A host name is resolved only when sending (`checkResolved`).
 */
export function parseTarget(raw: string, policy: TargetPolicy): Target {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TargetRefusedError(`${NOTIFY_TAG} must be an http or https URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new TargetRefusedError(`${NOTIFY_TAG} must be an http or https URL`);
  if (u.username || u.password) throw refused(u, "it carries credentials");
  if (policy.queues.includes(raw)) return { kind: "queue", url: raw };
  if (SQS_PATH.test(u.pathname)) throw refused(u, "it names an SQS queue this deployment does not send to");
  if (policy.allowed.length > 0 && !policy.allowed.some((p) => under(u, p)))
    throw refused(u, "it is outside the targets this deployment sends to");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (ipaddr.isValid(host)) {
    if (!addressAllowed(host, policy.allowNetworks)) throw refused(u, "its address is not a public one");
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    if (!addressAllowed("127.0.0.1", policy.allowNetworks)) throw refused(u, "it names this host");
  }
  return { kind: "webhook", url: u };
}

/** The addresses a webhook's host resolved to must all be allowed; refused otherwise. */
export function checkResolved(u: URL, addresses: readonly string[], policy: TargetPolicy): void {
  if (addresses.length === 0) throw refused(u, "its host did not resolve");
  const bad = addresses.find((a) => !addressAllowed(a, policy.allowNetworks));
  if (bad) throw refused(u, "its host resolves to an address that is not a public one");
}
