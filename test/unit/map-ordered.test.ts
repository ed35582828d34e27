import { describe, expect, it } from "vitest";
import { mapOrdered } from "../../lib/util/map-ordered.ts";

async function* range(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

describe("mapOrdered", () => {
  it("yields results in input order while running at most `concurrency` at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const out: number[] = [];
    for await (const r of mapOrdered(range(20), 4, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((res) => setTimeout(res, (20 - i) % 5));
      inFlight--;
      return i * 2;
    })) {
      out.push(r);
    }
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(peak).toBe(4);
  });

  it("surfaces a failure at its turn", async () => {
    const seen: number[] = [];
    const run = async () => {
      for await (const r of mapOrdered(range(5), 2, async (i) => {
        if (i === 2) throw new Error("boom");
        return i;
      })) {
        seen.push(r);
      }
    };
    await expect(run()).rejects.toThrow("boom");
    expect(seen).toEqual([0, 1]);
  });
});
