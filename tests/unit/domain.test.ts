import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Command, createResource, decide, type ResourceSpec, remaining } from "../../src/domain/resource";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");

const specArb: fc.Arbitrary<ResourceSpec> = fc.record({
  id: fc.constant("r"),
  type: fc.constant("session"),
  capacity: fc.integer({ min: 0, max: 40 }),
  waitingListEnabled: fc.boolean(),
  bookingOpensAt: fc.option(fc.integer({ min: T0 - 5_000, max: T0 + 5_000 }), { nil: null }),
  bookingClosesAt: fc.option(fc.integer({ min: T0 + 5_001, max: T0 + 60_000 }), { nil: null }),
  maxQuantityPerReservation: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
  holdTtlSeconds: fc.integer({ min: 30, max: 600 }),
  waitingListOfferTtlSeconds: fc.integer({ min: 60, max: 900 }),
  metadata: fc.constant({}),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant("reserve" as const),
      quantity: fc.integer({ min: 1, max: 8 }),
      hold: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Command>({ type: "close" }) },
  { weight: 1, arbitrary: fc.constant<Command>({ type: "reopen" }) },
);

/** Commands with non-decreasing server times, as the Durable Object hands them out. */
const historyArb = fc.array(fc.tuple(commandArb, fc.integer({ min: 0, max: 3_000 })), { maxLength: 80 });

function run(spec: ResourceSpec, history: [Command, number][]) {
  const initial = createResource(spec, T0 - 10_000);
  let state = initial;
  let now = T0 - 10_000;
  const decisions = [];
  for (const [command, step] of history) {
    now += step;
    const decision = decide(state, command, now);
    decisions.push({ command, now, decision });
    state = decision.state;
  }
  return { initial, state, decisions };
}

describe("decide (domain rules)", () => {
  it("never lets confirmed + held exceed capacity, whatever the commands", () => {
    fc.assert(
      fc.property(specArb, historyArb, (spec, history) => {
        for (const { decision } of run(spec, history).decisions) {
          const s = decision.state;
          expect(s.confirmed).toBeGreaterThanOrEqual(0);
          expect(s.held).toBeGreaterThanOrEqual(0);
          expect(s.confirmed + s.held).toBeLessThanOrEqual(s.capacity);
          expect(remaining(s)).toBe(s.capacity - s.confirmed - s.held);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("leaves the state untouched on a refusal and bumps the version by one on a change", () => {
    fc.assert(
      fc.property(specArb, historyArb, (spec, history) => {
        const { initial, decisions } = run(spec, history);
        let before = initial;
        for (const { decision } of decisions) {
          if (decision.outcome === "REJECTED") expect(decision.state).toBe(before);
          else if (decision.state !== before) expect(decision.state.version).toBe(before.version + 1);
          before = decision.state;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("reproduces every outcome and the final state when the recorded decisions are replayed", () => {
    fc.assert(
      fc.property(specArb, historyArb, (spec, history) => {
        const original = run(spec, history);
        const recorded: [Command, number][] = original.decisions.map(({ command, now }, i) => [
          command,
          now - (i === 0 ? T0 - 10_000 : (original.decisions[i - 1]?.now ?? 0)),
        ]);
        const replayed = run(spec, recorded);
        expect(replayed.decisions.map((d) => d.decision)).toEqual(original.decisions.map((d) => d.decision));
        expect(replayed.state).toEqual(original.state);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses with the exact reason for each rule", () => {
    const base = createResource(
      {
        id: "r",
        type: "t",
        capacity: 3,
        waitingListEnabled: false,
        bookingOpensAt: T0,
        bookingClosesAt: T0 + 1000,
        maxQuantityPerReservation: 2,
        holdTtlSeconds: 60,
        waitingListOfferTtlSeconds: 900,
        metadata: {},
      },
      T0 - 1,
    );
    const reserve = (quantity: number): Command => ({ type: "reserve", quantity, hold: false });
    expect(decide(base, reserve(1), T0 - 1)).toMatchObject({
      code: "RESOURCE_CLOSED",
      reason: expect.stringContaining("opens at"),
    });
    expect(decide(base, reserve(1), T0 + 1000)).toMatchObject({
      code: "RESOURCE_CLOSED",
      reason: expect.stringContaining("closed at"),
    });
    expect(decide(base, reserve(3), T0)).toMatchObject({
      code: "INVALID_STATE",
      reason: "quantity 3 exceeds max_quantity_per_reservation 2",
    });
    const two = decide(base, reserve(2), T0).state;
    expect(decide(two, reserve(2), T0)).toMatchObject({ code: "RESOURCE_FULL", reason: "requested 2, remaining 1" });
    const closed = decide(two, { type: "close" }, T0).state;
    expect(decide(closed, reserve(1), T0)).toMatchObject({ code: "RESOURCE_CLOSED", reason: "resource is closed" });
    const hold = decide(base, { type: "reserve", quantity: 1, hold: true }, T0);
    expect(hold).toMatchObject({ outcome: "ACCEPTED", expiresAt: T0 + 60_000 });
    expect(hold.state.held).toBe(1);
  });

  it("treats close and reopen as idempotent: a repeat changes no version", () => {
    const open = createResource(
      {
        id: "r",
        type: "t",
        capacity: 1,
        waitingListEnabled: false,
        bookingOpensAt: null,
        bookingClosesAt: null,
        maxQuantityPerReservation: null,
        holdTtlSeconds: 60,
        waitingListOfferTtlSeconds: 900,
        metadata: {},
      },
      T0,
    );
    const closed = decide(open, { type: "close" }, T0).state;
    expect(closed.version).toBe(2);
    expect(decide(closed, { type: "close" }, T0).state).toBe(closed);
    expect(decide(open, { type: "reopen" }, T0).state).toBe(open);
  });
});
