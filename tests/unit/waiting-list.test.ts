import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ResourceSpec } from "../../src/domain/resource";
import { joinRefusal } from "../../src/domain/waiting-list";
import { checkLine, historyArb, type LineSnapshot, rulesArb } from "../support/waiting-line-checks";
import { WaitingLineModel } from "../support/waiting-line-model";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");

const spec = (fields: Partial<ResourceSpec> = {}): ResourceSpec => ({
  id: "r",
  type: "session",
  capacity: 2,
  waitingListEnabled: true,
  bookingOpensAt: null,
  bookingClosesAt: null,
  maxQuantityPerReservation: null,
  holdTtlSeconds: 60,
  waitingListOfferTtlSeconds: 120,
  metadata: {},
  ...fields,
});

/** The model as the shared checks see it. */
function snapshot(m: WaitingLineModel): LineSnapshot {
  const s = m.state;
  return { ...s, now: m.now, open: s.state === "OPEN", offered: m.offeredPlaces, entries: m.entries };
}

describe("waiting list (domain rules)", () => {
  it("never stalls and never offers more than remains, whatever joins, bookings, cancels, expiries, lapses and rule changes come", () => {
    fc.assert(
      fc.property(rulesArb, historyArb(60), (rules, history) => {
        const m = new WaitingLineModel(spec(rules), T0);
        let now = T0;
        for (const [step, advance] of history) {
          now += advance;
          m.run(step, now);
          checkLine(snapshot(m));
          // A join's reply showed the entry as stored.
          if (m.lastJoin) expect(m.lastJoin.entry.status === "NOTIFIED").toBe(m.lastJoin.shownNotified);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it("offers the place freed after an outsider took an offered one to the next entry (issue #14)", () => {
    const m = new WaitingLineModel(spec({ capacity: 2 }), T0);
    m.run({ kind: "reserve", client: "a", quantity: 1, hold: false }, T0);
    m.run({ kind: "reserve", client: "b", quantity: 1, hold: false }, T0);
    m.run({ kind: "join", client: "w1", quantity: 1 }, T0);
    m.run({ kind: "join", client: "w2", quantity: 1 }, T0);
    m.run({ kind: "cancel", pick: 0 }, T0 + 1);
    expect(m.entries.map((e) => e.status)).toEqual(["NOTIFIED", "WAITING"]);
    m.run({ kind: "reserve", client: "outsider", quantity: 1, hold: false }, T0 + 2);
    expect(m.offeredPlaces).toBe(0); // w1's offer no longer counts: its place is gone
    m.run({ kind: "cancel", pick: 0 }, T0 + 3); // b cancels
    expect(m.entries.map((e) => e.status)).toEqual(["NOTIFIED", "NOTIFIED"]);
    m.run({ kind: "join", client: "w3", quantity: 1 }, T0 + 1 + 120_000); // w1's offer lapses exactly now;
    expect(m.entries.map((e) => e.status)).toEqual(["EXPIRED", "NOTIFIED", "WAITING"]);
  });

  it("refuses a join the rules could never serve, and a disabled list", () => {
    const s = new WaitingLineModel(spec({ capacity: 3, maxQuantityPerReservation: 2 }), T0).state;
    expect(joinRefusal(s, 2)).toBeNull();
    expect(joinRefusal(s, 3)).toEqual({
      code: "VALIDATION_ERROR",
      reason: "quantity 3 exceeds max_quantity_per_reservation 2",
    });
    expect(joinRefusal(s, 4)).toEqual({ code: "VALIDATION_ERROR", reason: "quantity 4 exceeds capacity 3" });
    expect(joinRefusal({ ...s, waitingListEnabled: false }, 1)).toMatchObject({ code: "INVALID_STATE" });
  });
});
