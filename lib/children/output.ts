// A child's output for one delivery attempt, in ONE object, so that the merge reads one object
// per child and shard:
//   s3batch-child-output 1 <bitmap bytes>\n
//   <valid bitmap, roaring portable format>
//   <outcome lines: rowIndex,HTTPStatusCode,ErrorCode,ResultMessage, sorted by row index>
// A row in the bitmap with no outcome line succeeded with the default message ("Successful");
// an outcome line with status 200 is a success with its own message (a checksum, a Lambda's
// result string), any other status a failure.
import { UnrecoverableError } from "../errors.ts";
import { csvLine, parseCsvLine } from "../manifest/csv.ts";
import { type Line, readLineBatches } from "../manifest/lines.ts";
import type { TaskOutcome } from "../operations/types.ts";

const MAGIC = "s3batch-child-output 1 ";
const MAX_HEADER = 64;
const MAX_OUTCOME_LINE = 8 * 1024;
export const DEFAULT_SUCCESS = "Successful";

export interface OutcomeEntry {
  row: number;
  http: number;
  code: string;
  message: string;
}

/** The outcome line for a row, or "" when the bitmap alone says it (a plain success). */
export function outcomeLine(row: number, outcome: TaskOutcome): string {
  if (outcome.kind === "succeeded")
    return outcome.message === DEFAULT_SUCCESS ? "" : csvLine([row, 200, "", outcome.message]);
  if (outcome.kind === "failed") return csvLine([row, outcome.http, outcome.code, outcome.message]);
  return "";
}

export function encodeChildOutput(bitmap: Uint8Array, outcomes: string): Uint8Array {
  const header = new TextEncoder().encode(`${MAGIC}${bitmap.length}\n`);
  const text = new TextEncoder().encode(outcomes);
  const out = new Uint8Array(header.length + bitmap.length + text.length);
  out.set(header);
  out.set(bitmap, header.length);
  out.set(text, header.length + bitmap.length);
  return out;
}

const corrupt = () => new UnrecoverableError("InternalError", "a child output object is corrupt");

/** Reads the header and the bitmap; what follows (the outcome lines) stays a stream. */
async function splitChildOutput(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bitmap: Uint8Array; tail: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  let buf = new Uint8Array(0);
  const more = async () => {
    const { value, done } = await reader.read();
    if (done) return false;
    const next = new Uint8Array(buf.length + value.length);
    next.set(buf);
    next.set(value, buf.length);
    buf = next;
    return true;
  };
  let nl = buf.indexOf(10);
  while (nl === -1) {
    if (buf.length > MAX_HEADER || !(await more())) throw corrupt();
    nl = buf.indexOf(10);
  }
  const header = new TextDecoder().decode(buf.subarray(0, nl));
  const size = header.startsWith(MAGIC) ? Number(header.slice(MAGIC.length)) : Number.NaN;
  if (!Number.isInteger(size) || size < 0) throw corrupt();
  const start = nl + 1;
  while (buf.length < start + size) if (!(await more())) throw corrupt();
  const rest = buf.slice(start + size);
  const tail = new ReadableStream<Uint8Array>({
    start(c) {
      if (rest.length > 0) c.enqueue(rest);
    },
    async pull(c) {
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel: (why) => reader.cancel(why),
  });
  return { bitmap: buf.slice(start, start + size), tail };
}

/** Reads the header and the bitmap; the outcome lines are read in batches, as the merge asks. */
export async function openChildOutput(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bitmap: Uint8Array; outcomes: AsyncGenerator<OutcomeEntry[]> }> {
  const { bitmap, tail } = await splitChildOutput(stream);
  return { bitmap, outcomes: entryBatches(readLineBatches(tail, 0, MAX_OUTCOME_LINE)) };
}

async function* entryBatches(lines: AsyncGenerator<Line[]>): AsyncGenerator<OutcomeEntry[]> {
  for await (const batch of lines) {
    const out: OutcomeEntry[] = [];
    for (const line of batch) {
      if (line.text === "") continue;
      const [row, http, code, message] = parseCsvLine(line.text) ?? [];
      out.push({ row: Number(row), http: Number(http), code: code ?? "", message: message ?? "" });
    }
    yield out;
  }
}

/** Reads a whole output (a child resuming from its last checkpoint): the outcome lines as text. */
export async function readChildOutput(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bitmap: Uint8Array; outcomes: string }> {
  const { bitmap, tail } = await splitChildOutput(stream);
  return { bitmap, outcomes: await new Response(tail).text() };
}
