/**
 * The replay's promise (resource-object/past-states.ts): after any sequence of
 * commands, replaying the timeline to a decision gives exactly the state the
 * object held right after it (counters, state, rules, versions, and the
 * reservations holding places), every decision decided again agrees with its
 * record, and a replay through snapshots equals one from the beginning.
 * Random histories (fast-check) against the real object: holds that expire by
 * its clock, confirmations, cancellations, check-ins, rule changes, closing,
 * the waiting list.
 */
import { runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Holder, Replayed } from "../../src/domain/replay";
import type { ResourceState } from "../../src/domain/resource";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import type { Sequenced } from "../../src/resource-object/store";
import { createResource, objectOf, setClock } from "../helpers";

type Step =
  | { kind: "reserve"; quantity: number; hold: boolean; client: number }
  | { kind: "confirm" | "cancel" | "check_in"; pick: number }
  | { kind: "update"; capacity?: number; max?: number | null; holdTtl?: number; waitingList?: boolean }
  | { kind: "close" | "reopen" }
  | { kind: "join"; quantity: number; client: number }
  | { kind: "advance"; ms: number }
  | { kind: "snapshot" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      quantity: fc.integer({ min: 1, max: 3 }),
      hold: fc.boolean(),
      client: fc.nat(5),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("confirm" as const, "cancel" as const, "check_in" as const),
      pick: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        kind: fc.constant("update" as const),
        capacity: fc.integer({ min: 0, max: 8 }),
        max: fc.option(fc.integer({ min: 1, max: 3 })),
        holdTtl: fc.integer({ min: 1, max: 120 }),
        waitingList: fc.boolean(),
      },
      { requiredKeys: ["kind"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom("close" as const, "reopen" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("join" as const),
      quantity: fc.integer({ min: 1, max: 3 }),
      client: fc.nat(5),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("snapshot" as const) }) },
);

/** The object's private parts a test may look at. */
interface Inside {
  ledger: { current: Sequenced | null };
  pastStates: {
    snapshotEvery: number;
    snapshotDue(seq: number): Promise<void>;
    at(seq: number, o?: object): Promise<Replayed>;
  };
}
const inside = (o: ResourceObject) => o as unknown as Inside;

/** What the object holds now: its state and the reservations holding places, oldest first. */
function live(o: ResourceObject, sql: SqlStorage): { seq: number; resource: ResourceState; holders: Holder[] } {
  const current = inside(o).ledger.current as Sequenced;
  const holders = sql
    .exec(
      "SELECT id, client_id, quantity, status, expires_at FROM reservations WHERE status IN ('HELD', 'CONFIRMED', 'CHECKED_IN') ORDER BY server_seq",
    )
    .toArray()
    .map((r) => ({
      id: r.id as string,
      clientId: r.client_id as string,
      quantity: r.quantity as number,
      status: r.status as Holder["status"],
      expiresAt: r.expires_at as number | null,
    }));
  return { seq: current.lastSeq, resource: current.state, holders };
}

async function run(id: string, step: Step, made: string[], clock: { now: number }): Promise<void> {
  const caller = { requestId: `p-${crypto.randomUUID()}` };
  if (step.kind === "advance") {
    clock.now += step.ms;
    await setClock(id, clock.now);
  }
  await runInDurableObject(objectOf(id), async (o) => {
    switch (step.kind) {
      case "reserve": {
        const input = {
          ...caller,
          clientId: `c${step.client}`,
          quantity: step.quantity,
          hold: step.hold,
          metadata: {},
        };
        const reply = await o.reserve(input);
        if (reply.status === 201) made.push(JSON.parse(reply.body).id);
        return;
      }
      case "confirm":
      case "cancel":
      case "check_in": {
        const reservationId = made[step.pick % Math.max(1, made.length)];
        if (!reservationId) return;
        const act = { confirm: o.confirm, cancel: o.cancel, check_in: o.checkIn }[step.kind];
        await act.call(o, { ...caller, reservationId });
        return;
      }
      case "update": {
        const patch = {
          ...(step.capacity !== undefined && { capacity: step.capacity }),
          ...(step.max !== undefined && { maxQuantityPerReservation: step.max }),
          ...(step.holdTtl !== undefined && { holdTtlSeconds: step.holdTtl }),
          ...(step.waitingList !== undefined && { waitingListEnabled: step.waitingList }),
        };
        await o.update({ ...caller, patch });
        return;
      }
      case "close":
        await o.close(caller);
        return;
      case "reopen":
        await o.reopen(caller);
        return;
      case "join":
        await o.join({ ...caller, clientId: `c${step.client}`, quantity: step.quantity, callbackUrl: null });
        return;
      case "advance":
        o.get(); // a read processes what is due by the new time: holds expire, offers lapse
        return;
      case "snapshot":
        await inside(o).pastStates.snapshotDue(inside(o).ledger.current?.lastSeq ?? 0);
        return;
    }
  });
}

describe("replaying the timeline", () => {
  it("gives the live state after every step, through snapshots or from the beginning", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(stepArb, { minLength: 1, maxLength: 30 }),
        async (capacity, steps) => {
          const { id } = (await createResource({ capacity, waiting_list_enabled: true, hold_ttl_seconds: 60 })) as {
            id: string;
          };
          const clock = { now: Date.parse("2027-01-01T10:00:00.000Z") };
          await setClock(id, clock.now);
          const seen = [
            await runInDurableObject(objectOf(id), (o, state) => {
              inside(o).pastStates.snapshotEvery = 3;
              return live(o, state.storage.sql);
            }),
          ];
          const made: string[] = [];
          for (const step of steps) {
            await run(id, step, made, clock);
            seen.push(await runInDurableObject(objectOf(id), (o, state) => live(o, state.storage.sql)));
          }
          await runInDurableObject(objectOf(id), async (o) => {
            for (const then of seen) {
              const viaSnapshots = await inside(o).pastStates.at(then.seq);
              const fromScratch = await inside(o).pastStates.at(then.seq, { fromScratch: true });
              for (const replayed of [viaSnapshots, fromScratch]) {
                expect(replayed.disagreements).toEqual([]);
                expect(replayed.state.resource).toEqual(then.resource);
                expect(replayed.state.holders).toEqual(then.holders);
              }
            }
          });
        },
      ),
      { numRuns: 25 },
    );
  });
});
