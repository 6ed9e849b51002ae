/**
 * Orders when things go wrong, against the real objects: the coordinator
 * lost after its intent, after some of its holds, after it committed, in the
 * middle of a release; a resource whose order's coordinator cannot be
 * reached at the item's deadline; repeated and late calls. The coordinator
 * stores every step before and after each call, so what a crash leaves is
 * exactly the stored state these tests build; its alarm (and each item's
 * question at its deadline) must then finish the order, all or nothing.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newOrderId } from "../../src/domain/ids";
import { orderShard } from "../../src/order-object/address";
import { Coordinator, type CoordinatorParts } from "../../src/order-object/coordinator";
import type { ItemCalls, OrderObject, PlaceInput } from "../../src/order-object/order-object";
import { call, createResource, objectOf, reserve } from "../helpers";

const json = (res: Response) => res.json<Record<string, any>>();

function coordinator(orderId: string): DurableObjectStub<OrderObject> {
  const ns = env.ORDER_OBJECT as DurableObjectNamespace<OrderObject>;
  return ns.get(ns.idFromName(orderShard(orderId)));
}

/** Shards this file used: each test's order gets a shard of its own, so their clocks and alarms never mix. */
const usedShards = new Set<string>();
function freshOrderId(): string {
  for (;;) {
    const id = newOrderId();
    if (usedShards.has(orderShard(id))) continue;
    usedShards.add(orderShard(id));
    return id;
  }
}

async function resources(n: number, capacity = 2): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await createResource({ capacity })).id as string);
  return ids;
}

async function places(ids: string[]): Promise<[number, number][]> {
  return Promise.all(
    ids.map(async (id) => {
      const r = await json(await call("GET", `/resources/${id}`));
      return [r.confirmed, r.held] as [number, number];
    }),
  );
}

function placeInput(orderId: string, ids: string[], hold = false): PlaceInput {
  return {
    orderId,
    clientId: "c",
    hold,
    metadata: {},
    items: ids.map((resourceId) => ({ resourceId, quantity: 1 })),
    fingerprint: orderId,
    requestId: `req-${orderId}`,
  };
}

/** The shard's private parts, to leave what a crash would: the intent, then some calls, and nothing more. */
type Shard = { parts: CoordinatorParts; coordinators: Map<string, Coordinator> };
type Calling = {
  apply(event: { type: "holding"; item: number }): unknown;
  call(c: { action: string; item: number }, requestId: string): Promise<unknown>;
};
function begin(o: OrderObject, input: PlaceInput): Calling {
  const shard = o as unknown as Shard;
  const coordinator = Coordinator.begin(shard.parts, input);
  shard.coordinators.set(input.orderId, coordinator);
  return coordinator as unknown as Calling;
}

/** Runs the coordinator's alarm at `at` by its clock. */
async function alarmAt(orderId: string, at: number): Promise<void> {
  await runInDurableObject(coordinator(orderId), (o) => {
    o.clock = () => at;
  });
  await runDurableObjectAlarm(coordinator(orderId));
  await runInDurableObject(coordinator(orderId), (o) => {
    o.clock = () => Date.now();
  });
}

/** The coordinator's item calls as they are normally (the real resource objects). */
async function reconnect(orderId: string): Promise<void> {
  await runInDurableObject(coordinator(orderId), (o) => {
    o.itemCalls = (id) => env.RESOURCE_OBJECT.get(env.RESOURCE_OBJECT.idFromName(id)) as unknown as ItemCalls;
  });
}

/** The item calls with `failing` replaced by one that throws (the resource unreachable). */
function cutOff(real: ItemCalls, failing: keyof ItemCalls): ItemCalls {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === failing) return () => Promise.reject(new Error("unreachable (injected)"));
      return Reflect.get(target, prop);
    },
  });
}

describe("orders: recovery from lost coordinators, lost replies and late messages", () => {
  it("aborts an order whose coordinator was lost right after its intent, at its deadline (presumed abort)", async () => {
    const ids = await resources(2);
    const orderId = freshOrderId();
    const deadline = await runInDurableObject(coordinator(orderId), (o) => {
      begin(o, placeInput(orderId, ids));
      return o.get(orderId)?.deadline as number;
    });
    expect(await runInDurableObject(coordinator(orderId), (_, s) => s.storage.getAlarm())).toBe(deadline);
    await alarmAt(orderId, deadline);
    const order = await json(await call("GET", `/orders/${orderId}`));
    expect(order.status).toBe("REJECTED");
    expect(await places(ids)).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it("releases the holds placed before the coordinator was lost (k of n), and refuses their late repeats", async () => {
    const ids = await resources(3);
    const orderId = freshOrderId();
    const { deadline, asked } = await runInDurableObject(coordinator(orderId), async (o) => {
      const coordinatorOf = begin(o, placeInput(orderId, ids));
      const order = o.get(orderId);
      const inHoldOrder = [...(order?.items ?? []).keys()].sort((a, b) =>
        (order?.items[a]?.resourceId ?? "") < (order?.items[b]?.resourceId ?? "") ? -1 : 1,
      );
      const asked = inHoldOrder.slice(0, 2);
      // Each intent stored, each hold landed on its resource, and then the coordinator lost: no answer recorded.
      for (const item of asked) {
        coordinatorOf.apply({ type: "holding", item });
        await coordinatorOf.call({ action: "hold", item }, "req");
      }
      return { deadline: order?.deadline as number, asked };
    });
    expect((await places(ids)).map(([, held]) => held).reduce((a, b) => a + b)).toBe(2);
    await alarmAt(orderId, deadline);
    expect(await places(ids)).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    // A hold of the aborted order that arrives now (a delayed repeat) is refused where it was asked.
    for (const item of asked) {
      const resourceId = ids[item] as string;
      const late = await runInDurableObject(objectOf(resourceId), (r) =>
        r.holdForOrder({ orderId, item, requestId: "late", clientId: "c", quantity: 1, deadline: null, metadata: {} }),
      );
      expect(late).toMatchObject({ ok: false, code: "INVALID_STATE" });
    }
    expect((await places(ids)).flat()).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("confirms every item after a commit whose confirmations were lost, by the alarm", async () => {
    const ids = await resources(2);
    const orderId = freshOrderId();
    const reply = await runInDurableObject(coordinator(orderId), (o) => {
      o.itemCalls = (
        (real) => (id: string) =>
          cutOff(real(id), "confirmForOrder")
      )(o.itemCalls);
      return o.place(placeInput(orderId, ids));
    });
    expect(reply.status).toBe(503); // committed, items not yet confirmed
    expect(JSON.parse(reply.body)).toMatchObject({ order_status: "CONFIRMED", order_id: orderId });
    expect(await places(ids)).toEqual([
      [0, 1],
      [0, 1],
    ]);
    // The coordinator comes back with its calls working again; its retry alarm confirms the items.
    await reconnect(orderId);
    const retryAt = await runInDurableObject(coordinator(orderId), (_, s) => s.storage.getAlarm());
    expect(retryAt).not.toBeNull();
    await alarmAt(orderId, retryAt as number);
    expect(await places(ids)).toEqual([
      [1, 0],
      [1, 0],
    ]);
    const again = await runInDurableObject(coordinator(orderId), (o) => o.place(placeInput(orderId, ids)));
    expect(again.status).toBe(201); // a retry of the request now gets the order
  });

  it("finishes a release cut off half way: nothing stays held", async () => {
    const [a, b] = await resources(2);
    await reserve(b as string, { quantity: 2 }); // b full: the order aborts after holding a
    const orderId = freshOrderId();
    const reply = await runInDurableObject(coordinator(orderId), (o) => {
      o.itemCalls = (
        (real) => (id: string) =>
          cutOff(real(id), "releaseForOrder")
      )(o.itemCalls);
      return o.place(placeInput(orderId, [a as string, b as string]));
    });
    expect(reply.status).toBe(503); // refused, but a's release is not acknowledged yet
    expect(JSON.parse(reply.body)).toMatchObject({ order_status: "REJECTED", order_id: orderId });
    expect(await places([a as string])).toEqual([[0, 1]]);
    await reconnect(orderId);
    const retryAt = await runInDurableObject(coordinator(orderId), (_, s) => s.storage.getAlarm());
    await alarmAt(orderId, retryAt as number);
    expect(await places([a as string, b as string])).toEqual([
      [0, 0],
      [2, 0],
    ]);
  });

  it("keeps an item's place while its coordinator cannot be reached at the deadline, then obeys it", async () => {
    const [a] = await resources(1);
    const orderId = freshOrderId(); // a coordinator with no intent stored: the order never was
    const hold = { orderId, item: 0, requestId: "r", clientId: "c", quantity: 1, deadline: Date.now(), metadata: {} };
    const held = await runInDurableObject(objectOf(a as string), (r) => r.holdForOrder(hold));
    expect(held).toMatchObject({ ok: true, status: "HELD" });
    const repeat = await runInDurableObject(objectOf(a as string), (r) => r.holdForOrder(hold));
    expect(repeat).toEqual({ ...held, seq: null }); // the same place; nothing decided again
    expect(await places([a as string])).toEqual([[0, 1]]);

    await runInDurableObject(objectOf(a as string), (r) => {
      r.clock = () => Date.now() + 60_000;
      r.coordinator = () => ({ outcome: () => Promise.reject(new Error("unreachable (injected)")) });
    });
    await runDurableObjectAlarm(objectOf(a as string));
    expect(await places([a as string])).toEqual([[0, 1]]); // correctness over availability

    await runInDurableObject(objectOf(a as string), (r) => {
      r.clock = () => Date.now() + 120_000;
      r.coordinator = (id) =>
        env.ORDER_OBJECT.get(env.ORDER_OBJECT.idFromName(id)) as unknown as ReturnType<typeof r.coordinator>;
    });
    await runDurableObjectAlarm(objectOf(a as string));
    expect(await places([a as string])).toEqual([[0, 0]]); // no intent anywhere: released
    const timeline = await json(await call("GET", `/admin/resources/${a}/timeline`));
    const last = timeline.items.at(-1);
    expect(last).toMatchObject({ type: "reservation.order_release", detail: { order_id: orderId } });
  });
});
