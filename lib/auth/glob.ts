// IAM's wildcards: `*` matches any run of characters (none included), `?` exactly one. Actions
// match case-insensitively; ARNs case-sensitively, each of their six colon-separated parts on its
// own (the sixth, the resource, keeps any further colons), as IAM matches Resource and ArnLike.

/** A matcher for one pattern with IAM's wildcards. */
export function globMatcher(pattern: string, ignoreCase = false): (value: string) => boolean {
  if (pattern === "*") return () => true;
  if (!/[*?]/.test(pattern)) {
    if (!ignoreCase) return (v) => v === pattern;
    const lower = pattern.toLowerCase();
    return (v) => v.toLowerCase() === lower;
  }
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/-]/g, "\\$&")))
    .join("");
  const re = new RegExp(`^${source}$`, ignoreCase ? "is" : "s");
  // Most patterns begin with a literal (a bucket name): a value without it is refused before the regex.
  const literal = pattern.slice(0, pattern.search(/[*?]/));
  if (ignoreCase || literal.length === 0) return (v) => re.test(v);
  return (v) => v.startsWith(literal) && re.test(v);
}

/** The six parts of an ARN, or undefined when it has fewer. */
export function arnParts(arn: string): string[] | undefined {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < 5; i++) {
    const colon = arn.indexOf(":", from);
    if (colon === -1) return undefined;
    parts.push(arn.slice(from, colon));
    from = colon + 1;
  }
  parts.push(arn.slice(from));
  return parts;
}

/**
 * A matcher for an ARN pattern, part by part. A caller matching one ARN against many patterns
 * passes its parts (`arnParts`), split once.
 */
export function arnMatcher(pattern: string): (arn: string, parts?: string[]) => boolean {
  if (pattern === "*") return () => true;
  const parts = arnParts(pattern);
  if (!parts) return () => false;
  const matchers = parts.map((p) => globMatcher(p));
  return (arn, split) => {
    const value = split ?? arnParts(arn);
    if (value === undefined) return false;
    for (let i = 0; i < 6; i++)
      if (!(matchers[i] as (v: string) => boolean)(value[i] as string)) return false;
    return true;
  };
}
