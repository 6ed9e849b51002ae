import { describe, expect, it } from "vitest";
import { Drainer } from "../../src/resource-object/outbox/drainer";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Drainer whose rounds and settling are only counted. */
function counted() {
  const calls = { rounds: 0, settled: 0, failures: 0 };
  const drainer = new Drainer(
    async () => {
      calls.rounds += 1;
    },
    () => {
      calls.settled += 1;
    },
    () => {
      calls.failures += 1;
    },
  );
  drainer.quietMs = 50;
  return { drainer, calls };
}

describe("Drainer settling", () => {
  it("settles once when nothing comes within the quiet time", async () => {
    const { drainer, calls } = counted();
    drainer.settleWhenQuiet();
    await sleep(200);
    expect(calls).toEqual({ rounds: 0, settled: 1, failures: 0 });
  });

  it("does not settle when a commit asks for a drain first", async () => {
    const { drainer, calls } = counted();
    drainer.settleWhenQuiet();
    drainer.drainAt(Date.now() + 10_000); // a later timer than TIMER_LIMIT_MS: ignored, yet the commit still counts
    await sleep(200);
    expect(calls.settled).toBe(0);
  });

  it("does not settle when a drain runs first", async () => {
    const { drainer, calls } = counted();
    drainer.settleWhenQuiet();
    await drainer.drain();
    await sleep(200);
    expect(calls).toEqual({ rounds: 1, settled: 0, failures: 0 });
  });

  it("reports a settling that throws instead of losing it", async () => {
    const failures: unknown[] = [];
    const drainer = new Drainer(
      async () => {},
      () => {
        throw new Error("settle failed (injected)");
      },
      (err) => failures.push(err),
    );
    drainer.quietMs = 10;
    drainer.settleWhenQuiet();
    await sleep(100);
    expect(failures).toHaveLength(1);
  });
});
