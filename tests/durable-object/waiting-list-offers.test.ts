import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createResource, objectOf, receivedEvents, reserve, setClock, settle } from "../helpers";

const json = (res: Response) => res.json<Record<string, any>>();

function join(resourceId: string, clientId: string, extra: Record<string, unknown> = {}) {
  return call("POST", "/waiting-list/join", { body: { resource_id: resourceId, client_id: clientId, ...extra } });
}

const entry = async (id: string) => json(await call("GET", `/waiting-list/${id}`));
const cancel = (reservationId: string) => call("POST", `/reservations/${reservationId}/cancel`);

async function timeline(id: string): Promise<any[]> {
  return (await json(await call("GET", `/admin/resources/${id}/timeline?limit=1000`))).items;
}

/** One place, w1 and w2 waiting; the place frees and w1 is offered it for 60 s. */
async function offerOfOneMinute() {
  const resource = await createResource({
    capacity: 1,
    waiting_list_enabled: true,
    waiting_list_offer_ttl_seconds: 60,
  });
  const id = resource.id as string;
  const a = await json(await reserve(id, { client_id: "a" }));
  const w1 = await json(await join(id, "w1"));
  const w2 = await json(await join(id, "w2"));
  await cancel(a.id);
  const offered = await entry(w1.id);
  expect(offered.status).toBe("NOTIFIED");
  const lapsesAt = Date.parse(offered.offer_expires_at);
  expect(lapsesAt - Date.parse(offered.notified_at)).toBe(60_000);
  return { id, w1, w2, lapsesAt };
}

describe("waiting-list offers (API v1.1)", () => {
  it("never stalls: an offer whose place someone else booked stops counting, so the next freed place goes to the next entry", async () => {
    const resource = await createResource({ capacity: 2, waiting_list_enabled: true });
    const id = resource.id as string;
    const a = await json(await reserve(id, { client_id: "a" }));
    const b = await json(await reserve(id, { client_id: "b" }));
    const w1 = await json(await join(id, "w1"));
    const w2 = await json(await join(id, "w2"));
    expect([w1.status, w2.status]).toEqual(["WAITING", "WAITING"]);

    await cancel(a.id);
    expect((await entry(w1.id)).status).toBe("NOTIFIED");
    expect((await reserve(id, { client_id: "not-on-the-list" })).status).toBe(201); // takes the offered place

    await cancel(b.id);
    expect(await entry(w2.id)).toMatchObject({ status: "NOTIFIED", position: null });
    expect((await entry(w1.id)).status).toBe("NOTIFIED"); // still a courtesy until it lapses
    const notified = (await timeline(id)).filter((e) => e.type === "waiting_list.notify");
    expect(notified.map((e) => e.detail.entry_id)).toEqual([w1.id, w2.id]);
  });

  it("lets an offer lapse exactly after waiting_list_offer_ttl_seconds, by the alarm, and offers its places to the next entry", async () => {
    const { id, w1, w2, lapsesAt } = await offerOfOneMinute();

    await settle(id); // the backstop alarm's round leaves the alarm set for the lapse
    expect(await runInDurableObject(objectOf(id), (_, state) => state.storage.getAlarm())).toBe(lapsesAt);

    await setClock(id, lapsesAt - 1);
    await runDurableObjectAlarm(objectOf(id));
    expect((await entry(w1.id)).status).toBe("NOTIFIED"); // not yet

    await setClock(id, lapsesAt);
    await runDurableObjectAlarm(objectOf(id));
    const lapsed = (await timeline(id)).filter((e) => e.type === "waiting_list.expire");
    expect(lapsed).toHaveLength(1);
    expect(lapsed[0]).toMatchObject({ request_id: "system", client_id: "w1", detail: { cause: "offer_lapsed" } });
    expect(await entry(w1.id)).toMatchObject({ status: "EXPIRED", expired_at: new Date(lapsesAt).toISOString() });
    expect(await entry(w2.id)).toMatchObject({ status: "NOTIFIED" });

    // An expired entry may join again, at the back of the line.
    const again = await join(id, "w1");
    expect(again.status).toBe(201);
    expect(await json(again)).toMatchObject({ status: "WAITING", position: 1 });

    await settle(id);
    const events = await receivedEvents("global", (e) => e.resource_id === id && e.type === "waiting_list.expired", 1);
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({ entry_id: w1.id, client_id: "w1", cause: "offer_lapsed" });
  });

  it("treats an offer as lapsed at its time even before the alarm ran, inside any command", async () => {
    const { id, w2, lapsesAt } = await offerOfOneMinute();
    await setClock(id, lapsesAt);
    // w1 joining again at the lapse instant is a new entry: its offer is gone by server time.
    const rejoined = await join(id, "w1");
    expect(rejoined.status).toBe(201);
    expect(await json(rejoined)).toMatchObject({ status: "WAITING", position: 1 });
    expect((await entry(w2.id)).status).toBe("NOTIFIED");
  });

  it("answers a join with the entry as stored: NOTIFIED when places are free", async () => {
    const resource = await createResource({ capacity: 3, waiting_list_enabled: true });
    const id = resource.id as string;
    await reserve(id, { client_id: "a", quantity: 1 });
    const res = await join(id, "w", { quantity: 2 });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ status: "NOTIFIED", position: null });
    expect(Date.parse(body.offer_expires_at) - Date.parse(body.notified_at)).toBe(900_000);
    expect(await entry(body.id)).toEqual(body);
    // The next one finds no place free and not offered.
    expect(await json(await join(id, "v"))).toMatchObject({ status: "WAITING", position: 1 });
  });

  it("refuses an entry that could never book, and expires one that a rule change strands", async () => {
    const resource = await createResource({ capacity: 3, waiting_list_enabled: true, max_quantity_per_reservation: 2 });
    const id = resource.id as string;
    for (const quantity of [3, 4]) {
      const refused = await join(id, `big-${quantity}`, { quantity });
      expect(refused.status).toBe(400);
      expect(await json(refused)).toMatchObject({
        error: { code: "VALIDATION_ERROR", details: [{ field: "quantity", issue: "too_big" }] },
      });
    }
    const full = await json(await reserve(id, { client_id: "a", quantity: 2 }));
    await reserve(id, { client_id: "b", quantity: 1 });
    const pair = await json(await join(id, "pair", { quantity: 2 }));
    const single = await json(await join(id, "single", { quantity: 1 }));

    await call("PATCH", `/resources/${id}`, { body: { max_quantity_per_reservation: 1 } });
    expect(await entry(pair.id)).toMatchObject({ status: "EXPIRED", position: null });
    expect(await entry(single.id)).toMatchObject({ status: "WAITING", position: 1 });
    const stranded = (await timeline(id)).filter((e) => e.type === "waiting_list.expire");
    expect(stranded.map((e) => e.detail)).toEqual([
      { entry_id: pair.id, cause: "cannot_book", offer_expires_at: null },
    ]);

    await cancel(full.id); // two places free: the head (single) is no longer blocked
    expect((await entry(single.id)).status).toBe("NOTIFIED");
  });

  it("takes waiting_list_offer_ttl_seconds as a rule: default 900, 60..86400, PATCH bumps rules_version", async () => {
    const plain = await createResource();
    expect(plain.waiting_list_offer_ttl_seconds).toBe(900);
    const custom = await createResource({ waiting_list_offer_ttl_seconds: 60 });
    expect(custom.waiting_list_offer_ttl_seconds).toBe(60);
    for (const bad of [59, 86_401, 1.5]) {
      const res = await call("POST", "/resources", {
        body: { type: "t", capacity: 1, waiting_list_offer_ttl_seconds: bad },
      });
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: { details: [{ field: "waiting_list_offer_ttl_seconds" }] } });
    }
    const patched = await json(
      await call("PATCH", `/resources/${plain.id}`, { body: { waiting_list_offer_ttl_seconds: 86_400 } }),
    );
    expect(patched).toMatchObject({ waiting_list_offer_ttl_seconds: 86_400, rules_version: 2 });

    await settle(plain.id as string);
    const listed = await json(await call("GET", `/resources?type=session&limit=200`));
    expect(listed.items.find((r: any) => r.id === plain.id)).toMatchObject({ waiting_list_offer_ttl_seconds: 86_400 });
  });
});
