// A cursor over one child's outcome lines (sorted by row index), read as a stream. The merge asks
// it to read ahead through the last row of the batch it is about to merge, then takes entries
// without waiting: the cursor holds the entries of that batch plus one chunk.
import type { OutcomeEntry } from "../children/output.ts";

export class PartCursor {
  private entries: OutcomeEntry[] = [];
  private pos = 0;

  constructor(private batches: AsyncGenerator<OutcomeEntry[]> | undefined) {}

  static empty(): PartCursor {
    return new PartCursor(undefined);
  }

  /** Reads ahead until every entry up to `row` is buffered (or the outcomes end). */
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
      for (const e of next.value) this.entries.push(e);
    }
  }

  /** Returns and consumes the entry for `row` when it is the next one; `readThrough(row)` first. */
  take(row: number): OutcomeEntry | undefined {
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
