/**
 * The order protocol (src/domain/order.ts) against simulated resources and a
 * network that loses, delays and duplicates messages, with coordinator
 * restarts, client confirms and cancels, check-ins and resources asking at
 * their deadline: whatever the interleaving, once the network heals and time
 * passes, every order ends all or nothing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Call,
  DECISION_WINDOW_MS,
  decide,
  holdOrder,
  newOrder,
  nextCalls,
  type Order,
  type OrderEvent,
  outcomeForItem,
  settled,
} from "../../src/domain/order";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const HOLD_TTL_MS = 60_000;

/** One resource's view of one item: what it holds for the order, and whether a release came first. */
interface Place {
  status: "none" | "HELD" | "CONFIRMED" | "CHECKED_IN" | "CANCELLED";
  released: boolean;
  locked: boolean;
  expiresAt: number | null;
}

class World {
  order: Order;
  places: Place[];
  now = T0;
  /** Calls sent and not yet answered: delivered later, maybe twice, maybe never. */
  inFlight: Call[] = [];

  constructor(
    items: number,
    private readonly full: boolean[],
    hold: boolean,
  ) {
    const list = Array.from({ length: items }, (_, i) => ({ resourceId: `r${(i * 7) % items}`, quantity: 1 }));
    this.order = newOrder({ id: "ord_1", clientId: "c", hold, metadata: {} }, list, T0);
    this.places = list.map(() => ({ status: "none", released: false, locked: false, expiresAt: null }));
  }

  event(e: OrderEvent): void {
    this.order = decide(this.order, e, this.now).order;
  }

  /** The coordinator sends its next calls (recording the intent of a hold first). */
  send(): void {
    for (const call of nextCalls(this.order)) {
      if (call.action === "hold") this.event({ type: "holding", item: call.item });
      this.inFlight.push(call);
    }
  }

  /** A resource executes a call; the coordinator hears the answer unless `lost`. */
  deliver(index: number, lost: boolean, duplicate: boolean): void {
    const call = this.inFlight[index];
    if (!call) return;
    if (!duplicate) this.inFlight.splice(index, 1);
    const answer = this.execute(call);
    if (lost) {
      if (call.action === "hold") this.event({ type: "unreachable", item: call.item, reason: "lost" });
      return;
    }
    if (answer) this.event(answer);
  }

  private execute(call: Call): OrderEvent | null {
    const p = this.places[call.item] as Place;
    const item = call.item;
    switch (call.action) {
      case "hold": {
        if (p.released) return { type: "refused", item, code: "INVALID_STATE", reason: "released before" };
        if (p.status === "HELD")
          return { type: "held", item, reservationId: `rsv_${item}`, expiresAt: p.expiresAt ?? 0 };
        if (p.status !== "none") return null;
        if (this.full[item]) return { type: "refused", item, code: "RESOURCE_FULL", reason: "full" };
        const expiresAt = this.order.hold ? this.now + HOLD_TTL_MS : this.order.deadline;
        Object.assign(p, { status: "HELD", expiresAt });
        return { type: "held", item, reservationId: `rsv_${item}`, expiresAt };
      }
      case "confirm":
        if (p.status === "HELD") p.status = "CONFIRMED";
        return p.status === "CONFIRMED" || p.status === "CHECKED_IN" ? { type: "confirmed", item } : null;
      case "release":
        p.released = true;
        p.locked = false;
        if (p.status === "HELD" || p.status === "CONFIRMED") p.status = "CANCELLED";
        return { type: "released", item };
      case "lock":
        if (p.status === "CHECKED_IN") return { type: "lock_refused", item, reason: "checked in" };
        p.locked = true;
        return { type: "locked", item };
      case "unlock":
        p.locked = false;
        return { type: "unlocked", item };
    }
  }

  checkIn(item: number): void {
    const p = this.places[item];
    if (p && p.status === "CONFIRMED" && !p.locked) p.status = "CHECKED_IN";
  }

  /** A resource whose hold reached its deadline asks the coordinator, and obeys. */
  askAtDeadline(item: number): void {
    const p = this.places[item];
    if (!p || p.status !== "HELD" || p.expiresAt === null || this.now < p.expiresAt) return;
    const { order, outcome } = outcomeForItem(this.order, this.now);
    if (order) this.order = order;
    if (outcome === "confirm") p.status = "CONFIRMED";
    if (outcome === "release") {
      p.status = "CANCELLED";
      p.released = true;
    }
  }

  /** The coordinator restarts: calls in flight are forgotten (their effects may or may not have happened). */
  restart(): void {
    this.inFlight = [];
  }
}

type Step =
  | { kind: "send" }
  | { kind: "deliver"; index: number; lost: boolean; duplicate: boolean }
  | { kind: "restart" }
  | { kind: "confirm" }
  | { kind: "cancel" }
  | { kind: "checkIn"; item: number }
  | { kind: "ask"; item: number }
  | { kind: "time"; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "send" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("deliver" as const),
      index: fc.nat(5),
      lost: fc.boolean(),
      duplicate: fc.boolean(),
    }),
  },
  fc.constant({ kind: "restart" as const }),
  fc.constant({ kind: "confirm" as const }),
  fc.constant({ kind: "cancel" as const }),
  fc.record({ kind: fc.constant("checkIn" as const), item: fc.nat(4) }),
  fc.record({ kind: fc.constant("ask" as const), item: fc.nat(4) }),
  fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

function run(w: World, step: Step): void {
  if (step.kind === "send") w.send();
  else if (step.kind === "deliver") w.deliver(step.index, step.lost, step.duplicate);
  else if (step.kind === "restart") w.restart();
  else if (step.kind === "confirm" || step.kind === "cancel") w.event({ type: step.kind });
  else if (step.kind === "checkIn") w.checkIn(step.item);
  else if (step.kind === "ask") w.askAtDeadline(step.item);
  else {
    w.now += step.ms;
    w.event({ type: "tick" });
  }
}

/** The network heals: calls are delivered and answered, time runs past every deadline. */
function heal(w: World): void {
  const done = () => settled(w.order) && w.order.status !== "HELD"; // a HELD order waits: time runs it out
  for (let round = 0; round < 100 && !done(); round++) {
    w.restart();
    for (let calls = 0; calls < 50 && nextCalls(w.order).length > 0; calls++) {
      w.send();
      while (w.inFlight.length > 0) w.deliver(0, false, false);
    }
    if (done()) break;
    w.now += HOLD_TTL_MS;
    w.event({ type: "tick" });
    for (let i = 0; i < w.places.length; i++) w.askAtDeadline(i);
  }
}

function checkAllOrNothing(w: World): void {
  const taken = w.places.map((p) => p.status === "HELD" || p.status === "CONFIRMED" || p.status === "CHECKED_IN");
  expect(settled(w.order)).toBe(true);
  if (w.order.status === "CONFIRMED") {
    expect(w.places.map((p) => p.status === "CONFIRMED" || p.status === "CHECKED_IN")).not.toContain(false);
    expect(w.order.items.map((i) => i.phase)).toEqual(w.order.items.map(() => "confirmed"));
  } else {
    expect(["REJECTED", "CANCELLED", "EXPIRED"]).toContain(w.order.status);
    expect(taken).not.toContain(true);
  }
}

describe("orders (domain rules)", () => {
  it("ends all or nothing whatever replies are lost, late or repeated, whatever restarts, confirms, cancels and check-ins come", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.nat(3).map((n) => n === 0),
          { minLength: 5, maxLength: 5 },
        ), // a quarter of the items full
        fc.boolean(),
        fc.array(stepArb, { maxLength: 60 }),
        (items, full, hold, steps) => {
          const w = new World(items, full, hold);
          for (const step of steps) {
            run(w, step);
            // Never confirmed while an item is known refused; never committed after its deadline.
            if (w.order.status === "CONFIRMED") expect(w.order.items.every((i) => i.phase !== "refused")).toBe(true);
          }
          heal(w);
          checkAllOrNothing(w);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("commits only before its deadline, by the coordinator's clock, and presumes an abort after it", () => {
    const w = new World(2, [false, false], false);
    w.send();
    w.deliver(0, false, false); // the first hold lands
    w.now = w.order.deadline; // the deadline passes before the second is asked
    const { outcome } = outcomeForItem(w.order, w.now);
    expect(outcome).toBe("release");
    expect(decide(w.order, { type: "held", item: 1, reservationId: "rsv_1", expiresAt: 0 }, w.now).order.status).toBe(
      "REJECTED",
    );
    heal(w);
    checkAllOrNothing(w);
    expect(w.order.refusal).toMatchObject({ code: "UNAVAILABLE", item: null });
  });

  it("places holds one at a time in resource-id order, whatever the request order", () => {
    const order = newOrder(
      { id: "ord_2", clientId: "c", hold: false, metadata: {} },
      ["c", "a", "b"].map((resourceId) => ({ resourceId, quantity: 1 })),
      T0,
    );
    expect(holdOrder(order)).toEqual([1, 2, 0]);
    expect(nextCalls(order)).toEqual([{ action: "hold", item: 1 }]);
    expect(order.deadline - order.createdAt).toBe(DECISION_WINDOW_MS);
  });

  it("refuses to cancel a confirmed order with a checked-in item, and leaves every item confirmed", () => {
    const w = new World(3, [false, false, false], false);
    heal(w);
    expect(w.order.status).toBe("CONFIRMED");
    w.checkIn(1);
    w.event({ type: "cancel" });
    expect(w.order.status).toBe("CANCELLING");
    heal(w);
    expect(w.order.status).toBe("CONFIRMED");
    expect(w.order.refusal).toMatchObject({ code: "INVALID_STATE", item: 1 });
    expect(w.places.map((p) => [p.status, p.locked])).toEqual([
      ["CONFIRMED", false],
      ["CHECKED_IN", false],
      ["CONFIRMED", false],
    ]);
  });
});
