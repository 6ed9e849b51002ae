import { describe, expect, it } from "vitest";
import { Lru } from "../../src/lib/lru";

describe("Lru", () => {
  it("keeps at most max entries, evicting the least recently used", () => {
    const lru = new Lru<string, number>(2, 1000);
    lru.set("a", 1, 0);
    lru.set("b", 2, 0);
    expect(lru.get("a", 0)).toBe(1); // a is now the most recently used
    lru.set("c", 3, 0);
    expect(lru.size).toBe(2);
    expect(lru.get("b", 0)).toBeUndefined();
    expect([lru.get("a", 0), lru.get("c", 0)]).toEqual([1, 3]);
  });

  it("forgets an entry ttlMs after it was set, however often it is read", () => {
    const lru = new Lru<string, number>(10, 1000);
    lru.set("a", 1, 0);
    expect(lru.get("a", 999)).toBe(1);
    expect(lru.get("a", 1000)).toBeUndefined();
    expect(lru.size).toBe(0);
    lru.set("a", 2, 1000);
    lru.delete("a");
    expect(lru.get("a", 1000)).toBeUndefined();
  });
});
