import { describe, expect, it } from "vitest";
import { echoLines, echoOf, parseLines, parseRow } from "../../lib/manifest/rows.ts";

const line = (text: string) => ({ text, start: 0, end: text.length + 1 });

describe("parseRow", () => {
  it("URL-decodes keys and keeps the manifest's spelling for the report", () => {
    const row = parseRow(line("pool,dir%2Fa%20b%2Cc.txt"), 4, ["Bucket", "Key"]);
    expect(row).toEqual({ index: 4, bucket: "pool", rawKey: "dir%2Fa%20b%2Cc.txt", key: "dir/a b,c.txt" });
  });

  it("reads '+' as a space and %2B as a plus, as S3 Inventory encodes keys", () => {
    expect(parseRow(line("pool,a+b%2Bc"), 0, ["Bucket", "Key"]).key).toBe("a b+c");
  });

  it("names a header row for what it is", () => {
    expect(() => parseRow(line("Bucket,Key"), 0, ["Bucket", "Key"])).toThrow(/header row/);
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

describe("parseLines", () => {
  it("numbers non-blank lines only, from the first index, keeping byte offsets", () => {
    const lines = ["pool,a", "", "  ", "pool,b"].map((t, i) => ({ text: t, start: i * 10, end: i * 10 + 9 }));
    const out = parseLines(lines, 10, ["Bucket", "Key"]);
    expect(out.map((e) => [e.row.index, e.row.key, e.start])).toEqual([
      [10, "a", 0],
      [11, "b", 30],
    ]);
  });
});

describe("echoLines", () => {
  it("echoes Bucket,Key,VersionId exactly as parsing and re-quoting would", () => {
    const texts = ["pool,a%20b", "", 'pool,"a,b"', 'pool,"say ""hi"""', "pool,k%2C1"];
    for (const fields of [
      ["Bucket", "Key"],
      ["Bucket", "Key", "VersionId"],
      ["Ignore", "Bucket", "Key"],
    ] as const) {
      const lines = texts.map((t, i) => ({
        text: fields.length === 3 && t ? (fields[0] === "Ignore" ? `x,${t}` : `${t},v${i}`) : t,
        start: 0,
        end: 0,
      }));
      const parsed = parseLines(lines, 5, fields).map((e) => ({ index: e.row.index, echo: echoOf(e.row) }));
      expect(echoLines(lines, 5, fields)).toEqual(parsed);
    }
  });
});
