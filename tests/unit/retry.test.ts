import { describe, expect, it } from "vitest";
import { retryDelaySeconds } from "../../src/queues/retry";

describe("queue retry delays", () => {
  it("start at a second, double with jitter, and stop growing at 5 minutes", () => {
    const samples = (attempts: number) => Array.from({ length: 200 }, () => retryDelaySeconds(attempts));
    expect(new Set(samples(1))).toEqual(new Set([1]));
    for (const [attempts, low, high] of [
      [3, 2, 4],
      [5, 8, 16],
      [9, 128, 256],
    ] as const) {
      const got = samples(attempts);
      expect(Math.min(...got)).toBeGreaterThanOrEqual(low);
      expect(Math.max(...got)).toBeLessThanOrEqual(high);
    }
    expect(Math.max(...samples(40))).toBeLessThanOrEqual(300);
    expect(Math.min(...samples(40))).toBeGreaterThanOrEqual(150);
  });
});
