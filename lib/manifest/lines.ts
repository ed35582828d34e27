// Splits a byte stream into lines, keeping each line's byte offset so that dispatch can cut
// shards at line boundaries and children can read their shard with a ranged GET. Memory is one
// chunk plus one partial line, and a line longer than `maxLineBytes` is refused.
import { UnrecoverableError } from "../errors.ts";

export interface Line {
  text: string;
  /** Byte offset of the line's first byte within the object. */
  start: number;
  /** Byte offset just past the line's terminator. */
  end: number;
}

const NEWLINE = 10;

/** Yields the lines of `stream`, whose first byte sits at `offset` in the object. */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  offset: number,
  maxLineBytes: number,
): AsyncGenerator<Line> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let carry = new Uint8Array(0);
  let carryStart = offset;
  const decode = (bytes: Uint8Array) => {
    try {
      return decoder.decode(bytes).replace(/\r$/, "");
    } catch {
      throw new UnrecoverableError("InvalidManifestContent", `the line at byte ${carryStart} is not UTF-8`);
    }
  };
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let buf = value;
      if (carry.length > 0) {
        buf = new Uint8Array(carry.length + value.length);
        buf.set(carry);
        buf.set(value, carry.length);
      }
      let from = 0;
      for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, from)) {
        yield { text: decode(buf.subarray(from, nl)), start: carryStart, end: carryStart + nl - from + 1 };
        carryStart += nl - from + 1;
        from = nl + 1;
      }
      carry = buf.slice(from);
      if (carry.length > maxLineBytes) {
        throw new UnrecoverableError(
          "InvalidManifestContent",
          `the line at byte ${carryStart} is over ${maxLineBytes} bytes`,
        );
      }
    }
    if (carry.length > 0) yield { text: decode(carry), start: carryStart, end: carryStart + carry.length };
  } finally {
    reader.releaseLock();
    await stream.cancel().catch(() => {});
  }
}
