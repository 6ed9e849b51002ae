/**
 * Orders and single reservations fired together on overlapping resources.
 * Each resource's history must linearize (tests/support/linearizability.ts),
 * with every order item seen on its resource as what the protocol does there
 * inside the order's request: a hold (refused with the item's code, or
 * placed), then, if placed, its confirmation (the order confirmed) or its
 * release (refused) — and every order must end all or nothing.
 */
import { describe, expect, it } from "vitest";
import { call, createResource, reserve } from "../helpers";
import { linearize, type Op, type Timed } from "../support/linearizability";

/** Small enough that orders and singles compete for the last places, large enough that some orders win. */
const CAPACITY = 4;

type OrderAnswer = { status: number; body: Record<string, any> };

/** What an order did on each of its resources, as operations of that resource's history. */
function orderOps(resourceIds: string[], quantity: number, answer: OrderAnswer, span: [number, number]) {
  const ops: { resourceId: string; timed: Timed }[] = [];
  const at = (resourceId: string, op: Op) =>
    ops.push({ resourceId, timed: { op, invokedAt: span[0], answeredAt: span[1] } });
  const id = `order:${answer.body.id ?? answer.body.order_id}`;
  const sorted = [...resourceIds].sort();
  const refusedAt =
    answer.status === 201
      ? sorted.length
      : sorted.indexOf(resourceIds[Number(/\d+/.exec(answer.body.error.details[0].field)?.[0])] ?? "");
  sorted.forEach((resourceId, k) => {
    if (k < refusedAt) {
      at(resourceId, { kind: "reserve", quantity, hold: true, result: { ok: true, id } });
      at(resourceId, { kind: answer.status === 201 ? "confirm" : "cancel", id, result: { ok: true } });
    } else if (k === refusedAt) {
      at(resourceId, { kind: "reserve", quantity, hold: true, result: { ok: false, code: answer.body.error.code } });
    } // later items were never asked
  });
  return ops;
}

describe("orders and single reservations under concurrent load", () => {
  it("keep every resource's history linearizable, never overbook, and end every order all or nothing", async () => {
    const outcomes = { 201: 0, 409: 0 };
    for (let round = 0; round < 4; round++) {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await createResource({ capacity: CAPACITY })).id as string);
      const histories = new Map<string, Timed[]>(ids.map((id) => [id, []]));
      const orders: { id: string; status: number }[] = [];
      const timed = async <T>(send: () => Promise<T>): Promise<[T, [number, number]]> => {
        const invokedAt = Date.now();
        const value = await send();
        return [value, [invokedAt, Date.now()]];
      };
      const single = async (i: number) => {
        const resourceId = ids[(i + round) % ids.length] as string;
        const quantity = (i % 2) + 1;
        const hold = i % 3 === 0;
        const [res, span] = await timed(async () => {
          const r = await reserve(resourceId, { quantity, hold, client_id: `s${i}` });
          return { status: r.status, body: await r.json<Record<string, any>>() };
        });
        const result =
          res.status === 201
            ? { ok: true as const, id: res.body.id }
            : { ok: false as const, code: res.body.error.code };
        histories
          .get(resourceId)
          ?.push({ op: { kind: "reserve", quantity, hold, result }, invokedAt: span[0], answeredAt: span[1] });
        return res.status === 201 ? { resourceId, id: res.body.id as string } : null;
      };
      const order = async (i: number) => {
        const pick = ids.filter((_, k) => (k + i) % 3 !== 0 || i % 4 === 0); // 2 or 3 of the resources
        const items = (i % 2 === 0 ? pick : [...pick].reverse()).map((resource_id) => ({ resource_id }));
        const [answer, span] = await timed(async () => {
          const r = await call("POST", "/orders", { body: { client_id: `o${i}`, items } });
          return { status: r.status, body: await r.json<Record<string, any>>() };
        });
        expect([201, 409]).toContain(answer.status);
        orders.push({ id: answer.body.id ?? answer.body.order_id, status: answer.status });
        outcomes[answer.status as 201 | 409] += 1;
        for (const { resourceId, timed: t } of orderOps(
          items.map((it) => it.resource_id),
          1,
          answer,
          span,
        )) {
          histories.get(resourceId)?.push(t);
        }
      };
      const first = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => single(i)),
        ...Array.from({ length: 5 }, (_, i) => order(i)),
      ]);
      // A second wave: singles confirmed or cancelled while more orders and singles compete.
      const placed = first.filter((p): p is { resourceId: string; id: string } => p !== null && p !== undefined);
      await Promise.all([
        ...placed.map(async (p, i) => {
          const kind = i % 2 ? "confirm" : "cancel";
          const [res, span] = await timed(() => call("POST", `/reservations/${p.id}/${kind}`));
          await res.arrayBuffer();
          histories.get(p.resourceId)?.push({
            op: { kind, id: p.id, result: { ok: res.status === 200 } },
            invokedAt: span[0],
            answeredAt: span[1],
          });
        }),
        ...Array.from({ length: 4 }, (_, i) => order(i + 5)),
        ...Array.from({ length: 3 }, (_, i) => single(i + 6)),
      ]);

      for (const [resourceId, history] of histories) {
        expect(linearize(history, CAPACITY), `${resourceId}: ${JSON.stringify(history)}`).not.toBeNull();
        const r = await (await call("GET", `/resources/${resourceId}`)).json<Record<string, any>>();
        expect(r.confirmed + r.held).toBeLessThanOrEqual(r.capacity);
      }
      for (const o of orders) {
        const now = await (await call("GET", `/orders/${o.id}`)).json<Record<string, any>>();
        const statuses = now.items.map((i: any) => i.status);
        if (o.status === 201) expect(statuses.every((s: string) => s === "CONFIRMED")).toBe(true);
        else expect(statuses.some((s: string | null) => s === "HELD" || s === "CONFIRMED")).toBe(false);
      }
    }
    // The load is one where orders both win and lose against each other and the singles.
    expect(outcomes[201]).toBeGreaterThan(0);
    expect(outcomes[409]).toBeGreaterThan(0);
  });
});
