/**
 * The waiting-list property of tests/unit/waiting-list.test.ts, run against
 * the real object: its commands over HTTP, its clock moved, and the line read
 * back from its SQLite rows after every step. Fewer and shorter histories
 * than the domain test (each one is a new Durable Object), but the whole
 * sequencing is the object's own.
 */
import { runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WaitingStatus } from "../../src/domain/waiting-list";
import { call, createResource, objectOf, reserve, setClock } from "../helpers";
import { checkLine, historyArb, type LineSnapshot, rulesArb } from "../support/waiting-line-checks";
import type { Step } from "../support/waiting-line-model";

const json = (res: Response) => res.json<Record<string, any>>();
const pick = <T>(items: T[], n: number): T | undefined => items[n % Math.max(1, items.length)];

/** The line as the object stored it. */
async function stored(id: string): Promise<LineSnapshot> {
  return runInDurableObject(objectOf(id), (o, state) => {
    const sql = state.storage.sql;
    const r = sql.exec("SELECT state, capacity, confirmed, held, max_quantity_per_reservation FROM resource").one();
    const entries = sql
      .exec("SELECT status, quantity, offered, offer_expires_at FROM waiting_list ORDER BY server_seq")
      .toArray()
      .map((e) => ({
        status: e.status as WaitingStatus,
        quantity: e.quantity as number,
        counted: e.offered as number,
        lapsesAt: e.offer_expires_at as number | null,
      }));
    return {
      now: o.clock(),
      open: r.state === "OPEN",
      capacity: r.capacity as number,
      confirmed: r.confirmed as number,
      held: r.held as number,
      maxQuantityPerReservation: r.max_quantity_per_reservation as number | null,
      offered: entries.filter((e) => e.status === "NOTIFIED").reduce((n, e) => n + e.counted, 0),
      entries,
    };
  });
}

/**
 * Sends one step to the object; a join's reply must show the entry as stored
 * right after it. A step with nothing to send (no reservation to cancel yet)
 * reads the resource instead, which, like any command, first processes what
 * is due by the object's clock.
 */
async function send(id: string, step: Step, made: { reservations: string[]; entries: string[] }): Promise<void> {
  if (!(await command(id, step, made))) await call("GET", `/resources/${id}`);
}

async function command(id: string, step: Step, made: { reservations: string[]; entries: string[] }): Promise<boolean> {
  switch (step.kind) {
    case "reserve": {
      const res = await reserve(id, { client_id: step.client, quantity: step.quantity, hold: step.hold });
      if (res.status === 201) made.reservations.push((await json(res)).id);
      return true;
    }
    case "cancel": {
      const target = pick(made.reservations, step.pick);
      if (target) await call("POST", `/reservations/${target}/cancel`);
      return target !== undefined;
    }
    case "join": {
      const res = await call("POST", "/waiting-list/join", {
        body: { resource_id: id, client_id: step.client, quantity: step.quantity },
      });
      if (res.status !== 201) return true;
      const shown = await json(res);
      made.entries.push(shown.id);
      expect((await json(await call("GET", `/waiting-list/${shown.id}`))).status).toBe(shown.status);
      return true;
    }
    case "leave": {
      const target = pick(made.entries, step.pick);
      if (target) await call("DELETE", `/waiting-list/${target}`);
      return target !== undefined;
    }
    case "update": {
      const p = step.patch;
      const body = {
        capacity: p.capacity,
        max_quantity_per_reservation: p.maxQuantityPerReservation,
        waiting_list_offer_ttl_seconds: p.waitingListOfferTtlSeconds,
      };
      if (Object.values(body).every((v) => v === undefined)) return false;
      await call("PATCH", `/resources/${id}`, { body });
      return true;
    }
    case "close":
    case "reopen":
      await call("POST", `/resources/${id}/${step.kind}`);
      return true;
  }
}

describe("waiting list in the Durable Object", () => {
  it("never stalls and never offers more than remains, over random histories", async () => {
    await fc.assert(
      fc.asyncProperty(rulesArb, historyArb(25), async (rules, history) => {
        const resource = await createResource({
          capacity: rules.capacity,
          waiting_list_enabled: true,
          max_quantity_per_reservation: rules.maxQuantityPerReservation,
          hold_ttl_seconds: rules.holdTtlSeconds,
          waiting_list_offer_ttl_seconds: rules.waitingListOfferTtlSeconds,
        });
        const id = resource.id as string;
        let now = Date.now() + 3_600_000; // ahead of the creation: server time never runs backwards
        const made = { reservations: [] as string[], entries: [] as string[] };
        for (const [step, advance] of history) {
          now += advance;
          await setClock(id, now);
          await send(id, step, made);
          checkLine(await stored(id));
        }
      }),
      { numRuns: 40 },
    );
  }, 180_000);
});
