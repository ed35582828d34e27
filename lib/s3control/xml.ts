// S3 Control REST-XML: parsing request bodies and writing result and error bodies.
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { z } from "zod";
import { badRequest, S3ControlError } from "../errors.ts";

export const S3CONTROL_NS = "http://awss3control.amazonaws.com/doc/2018-08-20/";

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === "member",
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  suppressEmptyNode: false,
});

/** The deepest nesting of a legitimate request is about 10 elements; its longest list has 100 grants. */
export const MAX_XML_DEPTH = 32;
export const MAX_XML_ELEMENTS = 20_000;

/**
 * Checks nesting depth and element count in one linear scan, before any parser recurses over a
 * hostile body. Comments, CDATA and processing instructions are skipped; the parser that runs
 * afterwards judges well-formedness.
 */
function checkShape(text: string): void {
  let depth = 0;
  let elements = 0;
  for (let i = text.indexOf("<"); i !== -1; i = text.indexOf("<", i + 1)) {
    if (text.startsWith("<!--", i)) {
      i = text.indexOf("-->", i + 4);
      if (i === -1) return;
      continue;
    }
    if (text.startsWith("<![CDATA[", i)) {
      i = text.indexOf("]]>", i + 9);
      if (i === -1) return;
      continue;
    }
    const next = text[i + 1];
    if (next === "?" || next === "!") continue;
    const end = text.indexOf(">", i + 1);
    if (end === -1) return;
    if (next === "/") depth--;
    else {
      elements++;
      if (text[end - 1] !== "/") depth++;
    }
    if (depth > MAX_XML_DEPTH)
      throw badRequest(`The XML you provided nests deeper than ${MAX_XML_DEPTH} elements`);
    if (elements > MAX_XML_ELEMENTS)
      throw badRequest(`The XML you provided has more than ${MAX_XML_ELEMENTS} elements`);
    i = end;
  }
}

/** Parses a request body whose root element must be `root` in the S3 Control namespace. */
export function parseRequestXml(text: string, root: string): Record<string, unknown> {
  // No DOCTYPE (so no entity expansion or external entities), and only XML's predefined entities.
  if (/<!DOCTYPE/i.test(text)) throw badRequest("The XML you provided must not have a DOCTYPE");
  if (/&(?!(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});)/.test(text)) {
    throw badRequest("The XML you provided was not well-formed: undefined entity");
  }
  checkShape(text);
  let doc: Record<string, unknown>;
  try {
    const valid = XMLValidator.validate(text);
    if (valid !== true) throw badRequest(`The XML you provided was not well-formed: ${valid.err.msg}`);
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof S3ControlError) throw err;
    throw badRequest(`The XML you provided could not be read: ${(err as Error).message}`.slice(0, 512));
  }
  const roots = Object.keys(doc).filter((k) => k !== "?xml");
  if (roots.length !== 1 || roots[0] !== root) throw badRequest(`The request body must be a ${root} element`);
  const body = doc[root];
  if (!body || typeof body !== "object") throw badRequest(`${root} is empty`);
  const { "@xmlns": ns, ...fields } = body as Record<string, unknown>;
  if (ns !== S3CONTROL_NS) throw badRequest(`${root} must be in the namespace ${S3CONTROL_NS}`);
  return fields;
}

/** The model's maps, kept as lists of {key, value}: written as `<entry>` elements. */
const MAP_FIELDS = new Set(["UserArguments", "UserMetadata"]);

/** Turns arrays into S3 Control's `<member>` lists (maps into `<entry>`s) and drops undefined fields. */
function toXmlShape(value: unknown): unknown {
  if (Array.isArray(value)) return { member: value.map(toXmlShape) };
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      out[k] = MAP_FIELDS.has(k) && Array.isArray(v) ? { entry: v.map(toXmlShape) } : toXmlShape(v);
    }
    return out;
  }
  return value;
}

/** Serialises a result document with the S3 Control namespace on its root element. */
export function buildResultXml(root: string, fields: Record<string, unknown>): string {
  const body = { [root]: { "@xmlns": S3CONTROL_NS, ...(toXmlShape(fields) as object) } };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(body)}`;
}

/** The error body S3 Control answers with; the SDKs read Error.Code and Error.Message. */
export function buildErrorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({
    ErrorResponse: { Error: { Code: code, Message: message }, RequestId: requestId, HostId: "" },
  })}`;
}

/** An S3 Control list: `<X><member>…</member></X>`, or an empty element for an empty list. */
export const xmlList = <T extends z.ZodType>(item: T, max: number) =>
  z.preprocess(
    (v) =>
      v === "" ? [] : v && typeof v === "object" && "member" in v ? (v as { member: unknown }).member : v,
    z.array(item).max(max, `at most ${max} items`),
  );
