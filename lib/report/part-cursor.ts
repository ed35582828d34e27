// A cursor over one child part file (rows `rowIndex,HTTPStatusCode,ErrorCode,ResultMessage`,
// sorted by row index), read as a stream. The merge asks it to read ahead through the last row of
// the batch it is about to merge, then takes entries without waiting: the cursor holds the
// entries of that batch plus one chunk.
import { parseCsvLine } from "../manifest/csv.ts";
import { type Line, readLineBatches } from "../manifest/lines.ts";
import type { JsonStore } from "../store/json-store.ts";

export interface PartEntry {
  row: number;
  http: number;
  code: string;
  message: string;
}

const MAX_PART_LINE = 8 * 1024;

export class PartCursor {
  private entries: PartEntry[] = [];
  private pos = 0;

  private constructor(private batches: AsyncGenerator<Line[]> | undefined) {}

  static async open(store: JsonStore, key: string): Promise<PartCursor> {
    return PartCursor.fromStream(await store.getStream(key));
  }

  /** A cursor over a part's bytes; no stream is an empty part. */
  static fromStream(stream: ReadableStream<Uint8Array> | undefined): PartCursor {
    return new PartCursor(stream ? readLineBatches(stream, 0, MAX_PART_LINE) : undefined);
  }

  static empty(): PartCursor {
    return new PartCursor(undefined);
  }

  /** Reads ahead until every entry up to `row` is buffered (or the part ends). */
  async readThrough(row: number): Promise<void> {
    while (this.batches && (this.entries.at(-1)?.row ?? -1) <= row) {
      const next = await this.batches.next();
      if (next.done) {
        this.batches = undefined;
        break;
      }
      if (this.pos > 0) {
        this.entries = this.entries.slice(this.pos);
        this.pos = 0;
      }
      for (const line of next.value) if (line.text !== "") this.entries.push(parseEntry(line.text));
    }
  }

  /** Returns and consumes the entry for `row` when it is the next one; `readThrough(row)` first. */
  take(row: number): PartEntry | undefined {
    const head = this.entries[this.pos];
    if (head?.row !== row) return undefined;
    this.pos++;
    return head;
  }

  async close(): Promise<void> {
    await this.batches?.return(undefined);
    this.batches = undefined;
  }
}

function parseEntry(text: string): PartEntry {
  const [row, http, code, message] = parseCsvLine(text) ?? [];
  return { row: Number(row), http: Number(http), code: code ?? "", message: message ?? "" };
}
