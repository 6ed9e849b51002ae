/**
 * The waiting-list property, shared by the domain test (over the in-memory
 * model) and the Durable Object test (over the object's SQLite rows): random
 * histories of joins, bookings, cancels, leaves, rule changes, close/reopen
 * and clock moves (hold expiries, offer lapses), and what must hold after
 * every step of them.
 */
import fc from "fast-check";
import { expect } from "vitest";
import type { WaitingStatus } from "../../src/domain/waiting-list";
import type { Step } from "./waiting-line-model";

/** The rules a history starts with. */
export const rulesArb = fc.record({
  capacity: fc.integer({ min: 0, max: 8 }),
  maxQuantityPerReservation: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
  holdTtlSeconds: fc.integer({ min: 30, max: 120 }),
  waitingListOfferTtlSeconds: fc.integer({ min: 60, max: 180 }),
});

/** Few clients, so the same ones wait, get offers and book. */
const client = fc.constantFrom("c0", "c1", "c2", "c3", "c4", "c5");

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      client,
      quantity: fc.integer({ min: 1, max: 3 }),
      hold: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("join" as const), client, quantity: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("leave" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("update" as const),
      patch: fc.record(
        {
          capacity: fc.integer({ min: 0, max: 8 }),
          maxQuantityPerReservation: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
          waitingListOfferTtlSeconds: fc.integer({ min: 60, max: 180 }),
        },
        { requiredKeys: [] },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "close" }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "reopen" }) },
);

/** Steps and how far the clock moves before each: often not at all, sometimes past hold expiries and offer lapses. */
export const historyArb = (maxLength: number) =>
  fc.array(
    fc.tuple(
      stepArb,
      fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 30_000, max: 200_000 })),
    ),
    { minLength: 1, maxLength },
  );

/** A resource and its line as stored, entries in join order. */
export interface LineSnapshot {
  now: number;
  open: boolean;
  capacity: number;
  confirmed: number;
  held: number;
  maxQuantityPerReservation: number | null;
  /** The engine's own count of places offered (the sum of what each offer still counts). */
  offered: number;
  entries: { status: WaitingStatus; quantity: number; counted: number; lapsesAt: number | null }[];
}

/** What must hold after every step. */
export function checkLine(l: LineSnapshot): void {
  const remaining = l.capacity - l.confirmed - l.held;
  const notified = l.entries.filter((e) => e.status === "NOTIFIED");
  const waiting = l.entries.filter((e) => e.status === "WAITING");
  expect(notified.reduce((n, e) => n + e.counted, 0)).toBe(l.offered);
  // Offered places never exceed what remains.
  expect(l.offered).toBeLessThanOrEqual(remaining);
  // No stall: places free and not offered go to the head entry whenever it fits.
  const head = waiting[0];
  if (head && l.open) expect(head.quantity).toBeGreaterThan(remaining - l.offered);
  // Offers lapse exactly at their time.
  for (const e of notified) expect(e.lapsesAt as number).toBeGreaterThan(l.now);
  // Nobody waits for what the rules can never give.
  const largest = Math.min(l.capacity, l.maxQuantityPerReservation ?? Number.POSITIVE_INFINITY);
  for (const e of [...waiting, ...notified]) expect(e.quantity).toBeLessThanOrEqual(largest);
  // Strict join order: nobody was ever offered places while someone ahead of them still waits.
  const firstWaiting = l.entries.findIndex((e) => e.status === "WAITING");
  if (firstWaiting >= 0) for (const e of l.entries.slice(firstWaiting)) expect(e.lapsesAt).toBeNull();
}
