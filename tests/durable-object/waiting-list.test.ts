import { describe, expect, it } from "vitest";
import { signature } from "../../src/queues/webhook-delivery";
import { call, createResource, received, reserve, settle, uniqueId } from "../helpers";

const SECRET = "test-webhook-secret-0123456789";

const json = (res: Response) => res.json<Record<string, any>>();

function join(resourceId: string, clientId: string, extra: Record<string, unknown> = {}) {
  return call("POST", "/waiting-list/join", { body: { resource_id: resourceId, client_id: clientId, ...extra } });
}

describe("waiting list", () => {
  it("notifies exactly the first entries that fit, in join order, once each, when 3 places free up", async () => {
    const resource = await createResource({ capacity: 3, waiting_list_enabled: true });
    const id = resource.id as string;
    const booked = [];
    for (let i = 0; i < 3; i++) booked.push(await json(await reserve(id, { client_id: `owner-${i}` })));

    const name = uniqueId("wl");
    const entries = [];
    for (let i = 0; i < 20; i++) {
      const res = await join(id, `waiter-${i}`, { callback_url: `https://hooks.test/ok/${name}` });
      expect(res.status).toBe(201);
      entries.push(await json(res));
    }
    expect(entries.map((e) => e.position)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await join(id, "waiter-4")).status).toBe(200); // joining again returns the existing entry

    await Promise.all(booked.map((b) => call("POST", `/reservations/${b.id}/cancel`)));
    await settle(id);

    const notified = (await json(await call("GET", `/admin/resources/${id}/timeline?limit=1000`))).items.filter(
      (e: any) => e.type === "waiting_list.notify",
    );
    expect(notified.map((e: any) => e.detail.entry_id)).toEqual(entries.slice(0, 3).map((e) => e.id));
    expect((await json(await call("GET", `/waiting-list/${entries[0]?.id}`))).status).toBe("NOTIFIED");
    expect(await json(await call("GET", `/waiting-list/${entries[3]?.id}`))).toMatchObject({
      status: "WAITING",
      position: 1,
    });

    // Deliveries run in parallel, so they may arrive in any order; the timeline above fixes the order.
    const got = await received(name, 3);
    expect(got.map((g) => JSON.parse(g.body).data.entry_id).sort()).toEqual(
      entries
        .slice(0, 3)
        .map((e) => e.id as string)
        .sort(),
    );
    for (const g of got) {
      const t = Number(/t=(\d+)/.exec(g.signature)?.[1]);
      expect(g.signature).toBe(await signature(SECRET, g.body, t));
      expect(JSON.parse(g.body)).toMatchObject({ type: "waiting_list.capacity_available", resource_id: id });
    }

    // A fourth place: the head (waiter-3) is next, and only it.
    await call("PATCH", `/resources/${id}`, { body: { capacity: 4 } });
    await settle(id);
    expect((await received(name, 4)).map((g) => JSON.parse(g.body).data.entry_id).sort()).toEqual(
      entries
        .slice(0, 4)
        .map((e) => e.id as string)
        .sort(),
    );
  });

  it("skips nobody: a large head entry blocks smaller ones behind it until it fits", async () => {
    const resource = await createResource({ capacity: 2, waiting_list_enabled: true });
    const id = resource.id as string;
    const a = await json(await reserve(id, { client_id: "a" }));
    await reserve(id, { client_id: "b" });
    const big = await json(await join(id, "big", { quantity: 2 }));
    const small = await json(await join(id, "small", { quantity: 1 }));
    await call("POST", `/reservations/${a.id}/cancel`); // one place: the head needs two
    expect((await json(await call("GET", `/waiting-list/${big.id}`))).status).toBe("WAITING");
    expect((await json(await call("GET", `/waiting-list/${small.id}`))).status).toBe("WAITING");
  });

  it("refuses to join a disabled waiting list, and lets an entry leave", async () => {
    const off = await createResource({ capacity: 1 });
    const refused = await join(off.id as string, "x");
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ error: { code: "INVALID_STATE" } });

    const on = await createResource({ capacity: 1, waiting_list_enabled: true });
    await reserve(on.id as string);
    const entry = await json(await join(on.id as string, "y"));
    const left = await call("DELETE", `/waiting-list/${entry.id}`);
    expect(await json(left)).toMatchObject({ status: "LEFT", position: null });
    const other = await json(await join(on.id as string, "z"));
    const viaBody = await call("DELETE", "/waiting-list/leave", { body: { entry_id: other.id } });
    expect(await json(viaBody)).toMatchObject({ status: "LEFT" });
  });
});
