// The shared gateway budget's deal, against an oracle: holders with changing wants tick in random
// order (each reads the document, settles its slots, writes its entry); whatever the order, the
// recorded slots never add up to more than the budget, and once wants are still each holder gets
// its fair share.
import { describe, expect, it } from "vitest";
import { fairShares, nextSlots, SharedBudget } from "../../lib/endpoints/budget.ts";
import { createLogger } from "../../lib/util/logger.ts";
import { MemoryStore } from "../fakes/memory-store.ts";
import { rng } from "../helpers/rng.ts";

/** The in-memory store, its writes held on demand. */
function memoryStore() {
  const store = new MemoryStore();
  return { store, hold: () => store.holdWrites() };
}

describe("gateway budget", () => {
  it("deals slots round-robin, up to each holder's want, never more than the budget", () => {
    expect(fairShares(8, { a: 10, b: 10 })).toEqual({ a: 4, b: 4 });
    expect(fairShares(8, { a: 1, b: 10, c: 10 })).toEqual({ a: 1, b: 4, c: 3 });
    expect(fairShares(8, { a: 2, b: 0 })).toEqual({ a: 2 });
    expect(fairShares(3, { c: 5, a: 5, b: 5, d: 5 })).toEqual({ a: 1, b: 1, c: 1, d: 0 });
  });

  it("never records more than the budget, and converges to the fair deal, in 500 random schedules", () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rand = rng(seed);
      const budget = 1 + Math.floor(rand() * 32);
      const ids = Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, i) => `h${i}`);
      const doc = { holders: {} as Record<string, { slots: number; want: number; at: number }> };
      const wants: Record<string, number> = {};
      const tick = (id: string) => {
        const want = wants[id] ?? 0;
        const slots = nextSlots(budget, doc, id, want);
        if (want === 0 && slots === 0) delete doc.holders[id];
        else doc.holders[id] = { slots, want, at: 0 };
        const total = Object.values(doc.holders).reduce((n, h) => n + h.slots, 0);
        if (total > budget) throw new Error(`seed ${seed}: ${total} slots recorded of ${budget}`);
      };
      for (let step = 0; step < 200; step++) {
        const id = ids[Math.floor(rand() * ids.length)] as string;
        if (rand() < 0.3) wants[id] = Math.floor(rand() * 40);
        tick(id);
      }
      // Wants stand still: two rounds in any order reach the fair deal.
      for (let round = 0; round < 2 * ids.length; round++) for (const id of ids) tick(id);
      const fair = fairShares(budget, wants);
      for (const id of ids) expect(doc.holders[id]?.slots ?? 0, `seed ${seed} ${id}`).toBe(fair[id] ?? 0);
    }
  });

  it("serves a request that starts to wait while the holder is giving its slots back", async () => {
    const { store, hold } = memoryStore();
    const budget = new SharedBudget(store, "gw", 4, "me", 300, createLogger("test", "error"));
    try {
      const first = await budget.acquire();
      first();
      // The next renewal records no want and gives the slot back; its write is held while a
      // new request starts to wait.
      const open = hold();
      await new Promise((r) => setTimeout(r, 250));
      let served = false;
      const second = budget.acquire().then((release) => {
        served = true;
        return release;
      });
      open();
      const outcome = await Promise.race([second, new Promise((r) => setTimeout(() => r("starved"), 3000))]);
      expect(outcome).not.toBe("starved");
      expect(served).toBe(true);
    } finally {
      budget.stop();
    }
  });
});
