// One-line JSON logs. Callers pass only identifiers and messages, never endpoint objects or
// credentials; `redact` is a second guard for fields named like secrets.

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;
const SECRET_FIELD = /secret|password|token|credential|authorization|signature/i;

/** Credentials a URL can carry: user info, and a presigned query's signature and credential. */
const URL_SECRETS: [RegExp, string][] = [
  [/(\/\/)[^/\s:@]+:[^/\s@]*@/g, "$1[redacted]@"],
  [/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"]+/gi, "$1[redacted]"],
];

/** A string with the credentials of any URL in it replaced. */
export function redactUrls(text: string): string {
  return URL_SECRETS.reduce((t, [re, by]) => t.replace(re, by), text);
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields))
    out[k] = SECRET_FIELD.test(k) ? "[redacted]" : typeof v === "string" ? redactUrls(v) : v;
  return out;
}

/** A logger writing JSON lines at `level` and above to `sink` (console.error by default). */
export function createLogger(
  component: string,
  level: Level = "info",
  sink: (line: string) => void = (l) => console.error(l),
  /** Fields on every line (the worker's id, say). */
  base: Record<string, unknown> = {},
): Logger {
  const at =
    (lvl: Level) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (LEVELS[lvl] < LEVELS[level]) return;
      sink(
        JSON.stringify({
          t: new Date().toISOString(),
          level: lvl,
          component,
          ...base,
          msg: redactUrls(msg),
          ...redact(fields),
        }),
      );
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
