import { describe, expect, it } from "vitest";
import { csvField, csvLine, parseCsvLine } from "../../lib/manifest/csv.ts";
import { type Line, readLines } from "../../lib/manifest/lines.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function collect(it: AsyncIterable<Line>): Promise<Line[]> {
  const out: Line[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe("parseCsvLine", () => {
  it("splits plain and quoted fields, with doubled quotes and commas inside quotes", () => {
    expect(parseCsvLine("pool,obj1")).toEqual(["pool", "obj1"]);
    expect(parseCsvLine('pool,"a,b ""c""",v1')).toEqual(["pool", 'a,b "c"', "v1"]);
    expect(parseCsvLine("pool,,")).toEqual(["pool", "", ""]);
  });

  it("refuses an unterminated quote or text after a closing quote", () => {
    expect(parseCsvLine('pool,"abc')).toBeUndefined();
    expect(parseCsvLine('pool,"abc"x')).toBeUndefined();
  });
});

describe("csvField", () => {
  it("quotes only what RFC 4180 requires and round-trips through the parser", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('say "hi", twice\n')).toBe('"say ""hi"", twice\n"');
    const fields = ["pool", 'k,"1"', "", "x y"];
    expect(parseCsvLine(csvLine(fields).trimEnd())).toEqual(fields);
  });
});

describe("readLines", () => {
  it("keeps byte offsets across chunk boundaries, CRLF and multi-byte characters", async () => {
    const lines = await collect(readLines(streamOf("ab,c", "d\r\né,", "x\nlast"), 100, 1024));
    expect(lines).toEqual([
      { text: "ab,cd", start: 100, end: 107 },
      { text: "é,x", start: 107, end: 112 },
      { text: "last", start: 112, end: 116 },
    ]);
  });

  it("counts a UTF-8 byte-order mark in the offsets and leaves it out of the first row", async () => {
    const text = "\uFEFFpool,obj-1\r\npool,obj-2\r\npool,obj-100";
    const bytes = new TextEncoder().encode(text);
    const lines = await collect(readLines(streamOf(text), 0, 1024));
    expect(lines).toEqual([
      { text: "pool,obj-1", start: 0, end: 15 },
      { text: "pool,obj-2", start: 15, end: 27 },
      { text: "pool,obj-100", start: 27, end: 39 },
    ]);
    expect(bytes.length).toBe(39);
    // A reader of the second line's span, as a child reads a shard, gets exactly that row.
    const second = new TextDecoder().decode(bytes.subarray(15, 27));
    expect(second).toBe("pool,obj-2\r\n");
    // A mark anywhere else is part of the text (a key may hold U+FEFF).
    const later = await collect(readLines(streamOf("\uFEFFk\n"), 10, 1024));
    expect(later[0]?.text).toBe("\uFEFFk");
  });

  it("refuses a UTF-16 manifest, with or without its byte-order mark", async () => {
    const utf16 = (bom: number[]) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array([...bom, 0x70, 0x00, 0x2c, 0x00, 0x6b, 0x00, 0x0a, 0x00]));
          c.close();
        },
      });
    await expect(collect(readLines(utf16([0xff, 0xfe]), 0, 1024))).rejects.toThrow(/UTF-16/);
    await expect(collect(readLines(utf16([0xfe, 0xff]), 0, 1024))).rejects.toThrow(/UTF-16/);
    await expect(collect(readLines(utf16([]), 0, 1024))).rejects.toThrow(/NUL byte/);
  });

  it("refuses a line longer than the bound", async () => {
    await expect(collect(readLines(streamOf("x".repeat(50)), 0, 10))).rejects.toThrow(/over 10 bytes/);
  });

  it("refuses bytes that are not UTF-8", async () => {
    const bad = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([0x61, 0xff, 0x0a]));
        c.close();
      },
    });
    await expect(collect(readLines(bad, 0, 1024))).rejects.toThrow(/not UTF-8/);
  });
});
