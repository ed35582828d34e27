import { describe, expect, it } from "vitest";
import { numberRows, parseRow } from "../../lib/manifest/rows.ts";

const line = (text: string) => ({ text, start: 0, end: text.length + 1 });

describe("parseRow", () => {
  it("URL-decodes keys and keeps the manifest's spelling for the report", () => {
    const row = parseRow(line("pool,dir%2Fa%20b%2Cc.txt"), 4, ["Bucket", "Key"]);
    expect(row).toEqual({ index: 4, bucket: "pool", rawKey: "dir%2Fa%20b%2Cc.txt", key: "dir/a b,c.txt" });
  });

  it("reads version IDs and skips Ignore columns", () => {
    expect(parseRow(line("x,pool,k,v1"), 0, ["Ignore", "Bucket", "Key", "VersionId"])).toMatchObject({
      bucket: "pool",
      key: "k",
      versionId: "v1",
    });
  });

  it.each([
    ["pool", "expected 2 columns"],
    ["Bad_Bucket,k", "bucket name"],
    ["pool,%E0%A4%A", "URL-encoded"],
    [`pool,${"k".repeat(1025)}`, "over 1024 bytes"],
    ["pool,", "key is empty"],
  ])("refuses %s", (text, why) => {
    expect(() => parseRow(line(text), 0, ["Bucket", "Key"])).toThrow(why);
  });

  it("requires a version ID on every row when the manifest has the column", () => {
    expect(() => parseRow(line("pool,k,"), 0, ["Bucket", "Key", "VersionId"])).toThrow(/all rows or none/);
  });
});

describe("numberRows", () => {
  it("numbers non-blank lines only, from the first index", async () => {
    async function* lines() {
      for (const t of ["a,1", "", "  ", "b,2"]) yield line(t);
    }
    const out: number[] = [];
    for await (const r of numberRows(lines(), 10)) out.push(r.index);
    expect(out).toEqual([10, 11]);
  });
});
