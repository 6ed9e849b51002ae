import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { orderShard } from "../../src/order-object/address";
import type { OrderObject } from "../../src/order-object/order-object";
import { call, createResource, receivedEvents, reserve, settle } from "../helpers";

const json = (res: Response) => res.json<Record<string, any>>();

function order(items: { resource_id: string; quantity?: number }[], extra: Record<string, unknown> = {}, headers = {}) {
  return call("POST", "/orders", { body: { client_id: "user-831", items, ...extra }, headers });
}

async function resource(id: string) {
  return json(await call("GET", `/resources/${id}`));
}

async function resources(n: number, fields: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await createResource({ capacity: 2, ...fields })).id as string);
  return ids;
}

/** What every resource holds, confirmed and held, in order. */
async function places(ids: string[]): Promise<[number, number][]> {
  return Promise.all(ids.map(async (id) => resource(id).then((r) => [r.confirmed, r.held] as [number, number])));
}

function coordinator(orderId: string): DurableObjectStub<OrderObject> {
  const ns = env.ORDER_OBJECT as DurableObjectNamespace<OrderObject>;
  return ns.get(ns.idFromName(orderShard(orderId)));
}

/** Moves an order's shard's clock to `at` for `fn`, then back to real time (other orders share the shard). */
async function atTime<T>(orderId: string, at: number, fn: () => Promise<T>): Promise<T> {
  const set = (clock: () => number) =>
    runInDurableObject(coordinator(orderId), (o) => {
      o.clock = clock;
    });
  await set(() => at);
  try {
    return await fn();
  } finally {
    await set(() => Date.now());
  }
}

describe("orders across resources (API v1.2)", () => {
  it("confirms every item at once: 201, Location, each item's reservation CONFIRMED and carrying the order id", async () => {
    const [a, b] = await resources(2);
    const res = await order([
      { resource_id: a as string, quantity: 2 },
      { resource_id: b as string, quantity: 1 },
    ]);
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(res.headers.get("Location")).toBe(`/orders/${body.id}`);
    expect(body).toMatchObject({ status: "CONFIRMED", client_id: "user-831", expires_at: null });
    expect(body.id).toMatch(/^ord_[A-Za-z0-9_-]{22}$/);
    expect(body.items.map((i: any) => [i.resource_id, i.quantity, i.status])).toEqual([
      [a, 2, "CONFIRMED"],
      [b, 1, "CONFIRMED"],
    ]);
    expect(await places([a as string, b as string])).toEqual([
      [2, 0],
      [1, 0],
    ]);
    for (const item of body.items) {
      const reservation = await json(await call("GET", `/reservations/${item.reservation_id}`));
      expect(reservation).toMatchObject({ status: "CONFIRMED", order_id: body.id, client_id: "user-831" });
    }
    expect(await json(await call("GET", `/orders/${body.id}`))).toEqual(body);
  });

  it("refuses the whole order when one item cannot be had, naming the item, and holds nothing afterwards", async () => {
    const [a, b, c] = await resources(3);
    expect((await reserve(b as string, { quantity: 2 })).status).toBe(201); // b is full
    const res = await order([{ resource_id: a as string }, { resource_id: b as string }, { resource_id: c as string }]);
    expect(res.status).toBe(409);
    const body = await json(res);
    expect(body).toMatchObject({
      status: "REJECTED",
      error: { code: "RESOURCE_FULL", details: [{ field: "items[1]", issue: "RESOURCE_FULL" }] },
    });
    expect(body.order_id).toMatch(/^ord_/);
    expect(await places([a as string, b as string, c as string])).toEqual([
      [0, 0],
      [2, 0],
      [0, 0],
    ]);
    const stored = await json(await call("GET", `/orders/${body.order_id}`));
    expect(stored.status).toBe("REJECTED");
    expect(stored.items.map((i: any) => i.status)).toEqual(["CANCELLED", null, null]);
    // The operator sees why, step by step: a held, b refused, a released; c never asked.
    const explained = await json(await call("GET", `/admin/orders/${body.order_id}/explain`));
    const steps = explained.steps.map((s: any) => `${s.action}:${s.item ?? "-"}`);
    expect(steps).toEqual(["create:-", "holding:0", "held:0", "holding:1", "refused:1", "released:0"]);
    expect(explained.steps.find((s: any) => s.action === "refused")).toMatchObject({
      resource_id: b,
      code: "RESOURCE_FULL",
    });
    expect(explained.steps.find((s: any) => s.action === "held").server_seq).toBeGreaterThan(1);
  });

  it("answers 404 naming the item for an unknown resource, with nothing held", async () => {
    const [a] = await resources(1);
    const res = await order([{ resource_id: a as string }, { resource_id: "no-such-resource-zz" }]);
    expect(res.status).toBe(404);
    expect(await json(res)).toMatchObject({ error: { code: "NOT_FOUND", details: [{ field: "items[1]" }] } });
    expect(await places([a as string])).toEqual([[0, 0]]);
  });

  it("refuses bad input with 400 and creates nothing", async () => {
    const [a, b] = await resources(2);
    const cases: unknown[] = [
      { client_id: "c", items: [] },
      { client_id: "c", items: Array.from({ length: 21 }, (_, i) => ({ resource_id: `r${i}` })) },
      { client_id: "c", items: [{ resource_id: a }, { resource_id: a }] },
      { client_id: "c", items: [{ resource_id: a, quantity: 0 }] },
      { client_id: "c", items: [{ resource_id: a, quantity: 1.5 }] },
      { client_id: "c", items: [{ resource_id: a, colour: "red" }] },
      { client_id: "c", items: [{ resource_id: a }], surprise: true },
      { items: [{ resource_id: a }] },
      { client_id: "c", items: [{ resource_id: "bad id!" }] },
      { client_id: "c", items: [{ resource_id: b }], hold: "yes" },
    ];
    for (const body of cases) {
      const res = await call("POST", "/orders", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await json(res)).error.code).toBe("VALIDATION_ERROR");
    }
    const duplicate = await json(await call("POST", "/orders", { body: cases[2] }));
    expect(duplicate.error.details).toEqual([{ field: "items.1.resource_id", issue: "custom" }]);
    expect(await places([a as string, b as string])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect((await call("GET", "/orders/ord_not-an-order")).status).toBe(404);
    expect((await call("GET", "/orders/ord_AAAAAAAAAAAAAAAAAAAAAA")).status).toBe(404);
  });

  it("holds every item until the order's expires_at, then confirms them all at once", async () => {
    const [a, b] = await resources(2);
    await call("PATCH", `/resources/${b}`, { body: { hold_ttl_seconds: 120 } });
    const res = await order([{ resource_id: a as string }, { resource_id: b as string }], { hold: true });
    expect(res.status).toBe(201);
    const held = await json(res);
    expect(held.status).toBe("HELD");
    expect(held.items.map((i: any) => i.status)).toEqual(["HELD", "HELD"]);
    // The earliest of the items' hold expiries: b's 120 s (a's is the default 600 s).
    const lasts = Date.parse(held.expires_at) - Date.parse(held.created_at);
    expect(lasts).toBeGreaterThanOrEqual(120_000);
    expect(lasts).toBeLessThan(121_000);
    // An item's hold ends when its order decides, not by a time of its own.
    const item0 = await json(await call("GET", `/reservations/${held.items[0].reservation_id}`));
    expect(item0).toMatchObject({ status: "HELD", expires_at: null, order_id: held.id });
    expect(await places([a as string, b as string])).toEqual([
      [0, 1],
      [0, 1],
    ]);
    // An item is the order's: confirming or cancelling it directly is refused.
    const item = held.items[0].reservation_id;
    expect((await call("POST", `/reservations/${item}/confirm`)).status).toBe(409);
    expect((await call("POST", `/reservations/${item}/cancel`)).status).toBe(409);

    const confirmed = await call("POST", `/orders/${held.id}/confirm`);
    expect(confirmed.status).toBe(200);
    expect((await json(confirmed)).items.map((i: any) => i.status)).toEqual(["CONFIRMED", "CONFIRMED"]);
    expect(await places([a as string, b as string])).toEqual([
      [1, 0],
      [1, 0],
    ]);
    expect((await call("POST", `/orders/${held.id}/confirm`)).status).toBe(200); // idempotent
  });

  it("refuses to confirm at expires_at by the coordinator's clock, and releases every item", async () => {
    const [a, b] = await resources(2);
    const held = await json(await order([{ resource_id: a as string }, { resource_id: b as string }], { hold: true }));
    const expiresAt = Date.parse(held.expires_at);
    const res = await atTime(held.id, expiresAt, () => call("POST", `/orders/${held.id}/confirm`));
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: { code: "INVALID_STATE" }, order_id: held.id });
    expect(await places([a as string, b as string])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    const after = await json(await call("GET", `/orders/${held.id}`));
    expect(after).toMatchObject({ status: "EXPIRED" });
    expect(after.items.map((i: any) => i.status)).toEqual(["EXPIRED", "EXPIRED"]);
  });

  it("lets a held order's places return at expires_at by the coordinator's alarm", async () => {
    const [a, b] = await resources(2);
    const held = await json(await order([{ resource_id: a as string }, { resource_id: b as string }], { hold: true }));
    const expiresAt = Date.parse(held.expires_at);
    const stub = coordinator(held.id);
    // The shard's alarm comes for its earliest order: this one's expiry at the latest.
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm as number).toBeLessThanOrEqual(expiresAt);
    await atTime(held.id, expiresAt, () => runDurableObjectAlarm(stub));
    expect((await json(await call("GET", `/orders/${held.id}`))).status).toBe("EXPIRED");
    expect(await places([a as string, b as string])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it("cancels every item of a confirmed order; refuses (changing nothing) once an item is checked in", async () => {
    const [a, b, c, d] = await resources(4);
    const first = await json(await order([{ resource_id: a as string }, { resource_id: b as string }]));
    const cancelled = await call("POST", `/orders/${first.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect((await json(cancelled)).status).toBe("CANCELLED");
    expect(await places([a as string, b as string])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect((await call("POST", `/orders/${first.id}/cancel`)).status).toBe(200); // idempotent

    const second = await json(await order([{ resource_id: c as string }, { resource_id: d as string }]));
    const leg = second.items[1].reservation_id;
    expect((await call("POST", `/reservations/${leg}/check-in`)).status).toBe(200); // each leg at its own door
    const refused = await call("POST", `/orders/${second.id}/cancel`);
    expect(refused.status).toBe(409);
    expect((await json(refused)).error.code).toBe("INVALID_STATE");
    const now = await json(await call("GET", `/orders/${second.id}`));
    expect(now.status).toBe("CONFIRMED");
    expect(now.items.map((i: any) => i.status)).toEqual(["CONFIRMED", "CHECKED_IN"]);
    expect(await places([c as string, d as string])).toEqual([
      [1, 0],
      [1, 0],
    ]);
    // The other leg was locked against check-in while the cancel ran, and is unlocked again.
    expect((await call("POST", `/reservations/${second.items[0].reservation_id}/check-in`)).status).toBe(200);
  });

  it("finds the same order on a retry with the same Idempotency-Key, and refuses the key with another body", async () => {
    const [a, b] = await resources(2);
    const key = { "Idempotency-Key": `order-${crypto.randomUUID()}` };
    const first = await order([{ resource_id: a as string }], {}, key);
    expect(first.status).toBe(201);
    const again = await order([{ resource_id: a as string }], {}, key);
    expect(again.status).toBe(201);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect((await json(again)).id).toBe((await json(first)).id);
    expect(await places([a as string])).toEqual([[1, 0]]);
    const other = await order([{ resource_id: b as string }], {}, key);
    expect(other.status).toBe(422);
    expect(await places([b as string])).toEqual([[0, 0]]);
  });

  it("lets exactly one of 50 competing orders win the last places, whatever their item order, and holds nothing else", async () => {
    const [a, b] = await resources(2, { capacity: 1 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        order(
          i % 2 === 0
            ? [{ resource_id: a as string }, { resource_id: b as string }]
            : [{ resource_id: b as string }, { resource_id: a as string }],
        ),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    expect(await places([a as string, b as string])).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });

  it("reaches the history (D1 orders, order_id in exports), the webhooks and /metrics", async () => {
    const [a, b] = await resources(2);
    const placed = await json(await order([{ resource_id: a as string }, { resource_id: b as string }]));
    let row: Record<string, unknown> | null = null;
    for (let i = 0; i < 100 && row?.status !== "CONFIRMED"; i++) {
      row = await env.DB.prepare("SELECT * FROM orders WHERE id = ?").bind(placed.id).first();
      if (row?.status !== "CONFIRMED") await new Promise((r) => setTimeout(r, 50));
    }
    expect(row).toMatchObject({ id: placed.id, status: "CONFIRMED", client_id: "user-831" });
    expect(JSON.parse(String(row?.items)).map((i: any) => i.status)).toEqual(["CONFIRMED", "CONFIRMED"]);

    await settle(a as string);
    const exported = await call("GET", `/admin/reservations/export?resource_id=${a}&format=ndjson`);
    const lines = (await exported.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.order_id)).toEqual([placed.id]);

    const events = await receivedEvents("global", (e) => e.order_id === placed.id, 1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: `evt_${placed.id}_confirmed`,
      type: "order.confirmed",
      resource_id: null,
      data: { id: placed.id, status: "CONFIRMED" },
    });
    const metrics = await (await call("GET", "/metrics")).text();
    expect(metrics).toMatch(/^orders_total\{status="CONFIRMED"\} [1-9]\d*$/m);
  });

  it("counts an order's holds in availability, and offers the places it releases to the waiting list", async () => {
    const r = (await createResource({ capacity: 1, waiting_list_enabled: true })).id as string;
    const [other] = await resources(1);
    const held = await json(await order([{ resource_id: r }, { resource_id: other as string }], { hold: true }));
    expect(held.status).toBe("HELD");
    const availability = await json(await call("GET", `/availability?resource_id=${r}`));
    expect(availability).toMatchObject({ remaining: 0 });
    const waiting = await json(
      await call("POST", "/waiting-list/join", { body: { resource_id: r, client_id: "next-in-line" } }),
    );
    expect(waiting.status).toBe("WAITING");
    expect((await call("POST", `/orders/${held.id}/cancel`)).status).toBe(200);
    expect(await json(await call("GET", `/waiting-list/${waiting.id}`))).toMatchObject({ status: "NOTIFIED" });
  });
});
