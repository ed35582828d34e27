// Splits a byte stream into lines, keeping each line's byte offset so that dispatch can cut
// shards at line boundaries and children can read their shard with a ranged GET. Lines come in
// batches, one per chunk of the stream, so a reader of millions of lines pays for one await per
// chunk rather than per line. Memory is one chunk plus one partial line, and a line longer than
// `maxLineBytes` is refused. Offsets are the object's bytes, whatever the text: a UTF-8 byte-order
// mark at the object's start is counted (3 bytes) and left out of the first line's text; a UTF-16
// manifest (its byte-order mark, or NUL bytes) is refused rather than misread.
import { UnrecoverableError } from "../errors.ts";

export interface Line {
  text: string;
  /** Byte offset of the line's first byte within the object. */
  start: number;
  /** Byte offset just past the line's terminator. */
  end: number;
}

const NEWLINE = 10;

/** Yields the lines of `stream` in batches; the stream's first byte sits at `offset` in the object. */
export async function* readLineBatches(
  stream: ReadableStream<Uint8Array>,
  offset: number,
  maxLineBytes: number,
): AsyncGenerator<Line[]> {
  // ignoreBOM keeps a byte-order mark in the text, so that byte offsets and text stay in step.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let carry = new Uint8Array(0);
  let carryStart = offset;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let buf = value;
      if (carryStart === 0 && carry.length === 0) refuseUtf16(buf);
      if (carry.length > 0) {
        buf = new Uint8Array(carry.length + value.length);
        buf.set(carry);
        buf.set(value, carry.length);
      }
      const last = buf.lastIndexOf(NEWLINE);
      if (last !== -1) {
        const lines = splitLines(decoder, buf.subarray(0, last + 1), carryStart, maxLineBytes);
        carryStart += last + 1;
        yield lines;
      }
      carry = buf.slice(last + 1);
      if (carry.length > maxLineBytes) throw tooLong(carryStart, maxLineBytes);
    }
    if (carry.length > 0) {
      yield splitLines(decoder, carry, carryStart, maxLineBytes);
    }
  } finally {
    reader.releaseLock();
    await stream.cancel().catch(() => {});
  }
}

/** Yields the lines of `stream` one by one. */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  offset: number,
  maxLineBytes: number,
): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(stream, offset, maxLineBytes)) yield* batch;
}

const tooLong = (at: number, max: number) =>
  new UnrecoverableError("InvalidManifestContent", `the line at byte ${at} is over ${max} bytes`);

const BOM = "\uFEFF";

/** A manifest that begins with a UTF-16 byte-order mark is refused: s3batch reads UTF-8. */
function refuseUtf16(first: Uint8Array): void {
  if ((first[0] === 0xfe && first[1] === 0xff) || (first[0] === 0xff && first[1] === 0xfe))
    throw new UnrecoverableError(
      "InvalidManifestContent",
      "the manifest is UTF-16 (it begins with a UTF-16 byte-order mark): save it as UTF-8",
    );
}

/**
 * Decodes `bytes` (whole lines, the last one terminated unless it ends the object) in one call
 * and splits it. Offsets are byte offsets: for ASCII text they equal string offsets; otherwise
 * each line's UTF-8 length is counted.
 */
function splitLines(decoder: TextDecoder, bytes: Uint8Array, start: number, maxLineBytes: number): Line[] {
  const nul = bytes.indexOf(0);
  if (nul !== -1)
    throw new UnrecoverableError(
      "InvalidManifestContent",
      `the line at byte ${lineStart(bytes, nul, start)} holds a NUL byte: the manifest is not UTF-8 text (UTF-16?)`,
    );
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new UnrecoverableError(
      "InvalidManifestContent",
      `the line at byte ${badLine(bytes, start)} is not UTF-8`,
    );
  }
  const ascii = text.length === bytes.length;
  const out: Line[] = [];
  let at = start;
  let from = 0;
  while (from < text.length) {
    let nl = text.indexOf("\n", from);
    if (nl === -1) nl = text.length;
    const raw = text.slice(from, nl);
    const size = (ascii ? raw.length : utf8Length(raw)) + (nl < text.length ? 1 : 0);
    if (size - 1 > maxLineBytes) throw tooLong(at, maxLineBytes);
    // The object's byte-order mark is counted in the offsets, but is not part of the first row.
    const line = at === 0 && raw.startsWith(BOM) ? raw.slice(1) : raw;
    out.push({ text: line.endsWith("\r") ? line.slice(0, -1) : line, start: at, end: at + size });
    at += size;
    from = nl + 1;
  }
  return out;
}

/** The byte offset of the line holding byte `i` of `bytes`. */
function lineStart(bytes: Uint8Array, i: number, start: number): number {
  return start + bytes.lastIndexOf(NEWLINE, i) + 1;
}

/** The byte offset of the first line in `bytes` that is not valid UTF-8. */
function badLine(bytes: Uint8Array, start: number): number {
  const strict = new TextDecoder("utf-8", { fatal: true });
  let from = 0;
  while (from < bytes.length) {
    let nl = bytes.indexOf(NEWLINE, from);
    if (nl === -1) nl = bytes.length;
    try {
      strict.decode(bytes.subarray(from, nl));
    } catch {
      return start + from;
    }
    from = nl + 1;
  }
  return start;
}

/** The UTF-8 length of a well-formed string. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
