// A cursor over one child part file (rows `rowIndex,HTTPStatusCode,ErrorCode,ResultMessage`,
// sorted by row index), read as a stream: the merge holds one line per open part.
import { parseCsvLine } from "../manifest/csv.ts";
import { type Line, readLines } from "../manifest/lines.ts";
import type { JsonStore } from "../store/json-store.ts";

export interface PartEntry {
  row: number;
  http: number;
  code: string;
  message: string;
}

const MAX_PART_LINE = 8 * 1024;

export class PartCursor {
  head: PartEntry | undefined;

  private constructor(private readonly lines: AsyncGenerator<Line> | undefined) {}

  static async open(store: JsonStore, key: string): Promise<PartCursor> {
    const stream = await store.getStream(key);
    return PartCursor.fromStream(stream);
  }

  /** A cursor over a part's bytes; no stream is an empty part. */
  static async fromStream(stream: ReadableStream<Uint8Array> | undefined): Promise<PartCursor> {
    const cursor = new PartCursor(stream ? readLines(stream, 0, MAX_PART_LINE) : undefined);
    await cursor.advance();
    return cursor;
  }

  static async empty(): Promise<PartCursor> {
    return new PartCursor(undefined);
  }

  /** Returns and consumes the entry for `row` when it is the next one. */
  async take(row: number): Promise<PartEntry | undefined> {
    if (this.head?.row !== row) return undefined;
    const entry = this.head;
    await this.advance();
    return entry;
  }

  async close(): Promise<void> {
    await this.lines?.return(undefined);
  }

  private async advance(): Promise<void> {
    for (;;) {
      const next = await this.lines?.next();
      if (!next || next.done) {
        this.head = undefined;
        return;
      }
      if (next.value.text === "") continue;
      const [row, http, code, message] = parseCsvLine(next.value.text) ?? [];
      this.head = { row: Number(row), http: Number(http), code: code ?? "", message: message ?? "" };
      return;
    }
  }
}
