import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import { call, createResource, reserve, settle } from "../helpers";

function objectOf(id: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(id));
}

async function setClock(resourceId: string, at: number): Promise<void> {
  await runInDurableObject(objectOf(resourceId), (o) => {
    o.clock = () => at;
  });
}

const json = (res: Response) => res.json<Record<string, any>>();
const post = (path: string, headers: Record<string, string> = {}) => call("POST", path, { headers });

async function timeline(id: string): Promise<any[]> {
  return (await json(await call("GET", `/admin/resources/${id}/timeline?limit=1000`))).items;
}

describe("holds", () => {
  it("holds with expires_at = server time + hold_ttl_seconds, then confirms once", async () => {
    const resource = await createResource({ capacity: 3, hold_ttl_seconds: 120 });
    const id = resource.id as string;
    const held = await json(await reserve(id, { hold: true, quantity: 2 }));
    expect(held.status).toBe("HELD");
    expect(Date.parse(held.expires_at) - Date.parse(held.server_timestamp)).toBe(120_000);
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({ held: 2, confirmed: 0, remaining: 1 });

    const confirmed = await post(`/reservations/${held.id}/confirm`);
    expect(confirmed.status).toBe(200);
    expect(await json(confirmed)).toMatchObject({ status: "CONFIRMED", id: held.id });
    const again = await post(`/reservations/${held.id}/confirm`);
    expect(again.status).toBe(200);
    expect(await json(again)).toMatchObject({ status: "CONFIRMED" });
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({ held: 0, confirmed: 2, remaining: 1 });
  });

  it("refuses a confirm after expires_at even before the expiry is processed, and frees the place", async () => {
    const resource = await createResource({ capacity: 1, hold_ttl_seconds: 60 });
    const id = resource.id as string;
    const held = await json(await reserve(id, { hold: true }));
    expect((await reserve(id)).status).toBe(409); // the hold takes the only place

    await setClock(id, Date.parse(held.expires_at)); // exactly at expires_at, no alarm has run
    const late = await post(`/reservations/${held.id}/confirm`);
    expect(late.status).toBe(409);
    expect(await json(late)).toMatchObject({ status: "REJECTED", error: { code: "INVALID_STATE" } });
    expect(await json(await call("GET", `/reservations/${held.id}`))).toMatchObject({ status: "EXPIRED" });
    expect((await reserve(id, { client_id: "next" })).status).toBe(201); // the place is free again

    const before = await timeline(id);
    await runDurableObjectAlarm(objectOf(id));
    await runDurableObjectAlarm(objectOf(id));
    const after = await timeline(id);
    expect(after.filter((e) => e.type === "reservation.expire")).toHaveLength(1);
    expect(after.length).toBe(before.length); // running the alarm twice changed nothing
    const expiry = after.find((e) => e.type === "reservation.expire");
    expect(expiry).toMatchObject({ outcome: "ACCEPTED", request_id: "system" });
    expect(expiry.reason).toContain("hold expired at");
  });

  it("lets the alarm release an expired hold without any request", async () => {
    const resource = await createResource({ capacity: 2, hold_ttl_seconds: 30 });
    const id = resource.id as string;
    const held = await json(await reserve(id, { hold: true, quantity: 2 }));
    await setClock(id, Date.parse(held.expires_at) + 1);
    await runDurableObjectAlarm(objectOf(id));
    const types = (await timeline(id)).map((e) => e.type);
    expect(types).toEqual(["resource.create", "reservation.reserve", "reservation.expire"]);
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({ held: 0, remaining: 2 });
  });
});

describe("cancel and check-in", () => {
  it("never lets confirmed exceed capacity at any server_seq while cancels land under contention", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const booked = await Promise.all(
      Array.from({ length: 5 }, (_, i) => reserve(id, { client_id: `b-${i}` }).then(json)),
    );
    const results = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => reserve(id, { client_id: `c-${i}` })),
      ...booked.map((b) => post(`/reservations/${b.id}/cancel`)),
    ]);
    expect(results.every((r) => [200, 201, 409].includes(r.status))).toBe(true);
    expect(results.slice(50).every((r) => r.status === 200)).toBe(true);

    // Replay the timeline: confirmed after every decision, from the decisions alone.
    let confirmed = 0;
    for (const e of await timeline(id)) {
      const changed = e.outcome === "ACCEPTED" && e.version_after > e.version_before;
      if (changed && e.type === "reservation.reserve") confirmed += e.quantity;
      if (changed && e.type === "reservation.cancel") confirmed -= e.quantity;
      expect(confirmed).toBeLessThanOrEqual(5);
    }
    const state = await json(await call("GET", `/resources/${id}`));
    expect(state.confirmed).toBe(confirmed);
    expect(state.confirmed).toBe(results.slice(0, 50).filter((r) => r.status === 201).length);
  });

  it("cancels idempotently and refuses to cancel an expired hold", async () => {
    const resource = await createResource({ capacity: 2 });
    const id = resource.id as string;
    const r = await json(await reserve(id));
    const first = await json(await post(`/reservations/${r.id}/cancel`));
    expect(first).toMatchObject({ status: "CANCELLED" });
    expect(first.cancelled_at).not.toBeNull();
    expect(await json(await post(`/reservations/${r.id}/cancel`))).toEqual(first);

    const held = await json(await reserve(id, { hold: true }));
    await setClock(id, Date.parse(held.expires_at));
    expect(await json(await post(`/reservations/${held.id}/cancel`))).toMatchObject({
      error: { code: "INVALID_STATE" },
    });
  });

  it("admits a reservation exactly once under 20 concurrent check-ins", async () => {
    const resource = await createResource({ capacity: 1 });
    const id = resource.id as string;
    const r = await json(await reserve(id));
    const results = await Promise.all(Array.from({ length: 20 }, () => post(`/reservations/${r.id}/check-in`)));
    expect(results.filter((x) => x.status === 200)).toHaveLength(1);
    expect(results.filter((x) => x.status === 409)).toHaveLength(19);
    const entries = (await timeline(id)).filter((e) => e.type === "reservation.check_in");
    expect(entries).toHaveLength(20);
    expect(entries.filter((e) => e.outcome === "ACCEPTED")).toHaveLength(1);
    expect(await json(await call("GET", `/reservations/${r.id}`))).toMatchObject({ status: "CHECKED_IN" });
    expect((await post(`/reservations/${r.id}/cancel`)).status).toBe(409); // no cancel after admission
  });

  it("answers 404 for unknown and malformed reservation ids", async () => {
    const resource = await createResource({ capacity: 1 });
    const r = await json(await reserve(resource.id as string));
    const forged = `${(r.id as string).slice(0, -4)}AAAA`;
    expect((await post(`/reservations/${forged}/confirm`)).status).toBe(404);
    expect((await post("/reservations/nope/cancel")).status).toBe(404);
  });
});

describe("PATCH /resources/{id}", () => {
  it("bumps rules_version on a rule change, and new reservations record it", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const before = await json(await reserve(id));
    expect(before.rules_version).toBe(1);
    const patched = await call("PATCH", `/resources/${id}`, { body: { capacity: 8, metadata: { room: "B" } } });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({ capacity: 8, remaining: 7, rules_version: 2, metadata: { room: "B" } });
    expect((await json(await reserve(id))).rules_version).toBe(2);
    const meta = await json(await call("PATCH", `/resources/${id}`, { body: { metadata: { room: "C" } } }));
    expect(meta.rules_version).toBe(2); // metadata is not a rule
  });

  it("refuses a capacity below confirmed + held and changes nothing", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    await reserve(id, { quantity: 3 });
    await reserve(id, { quantity: 1, hold: true });
    const before = await json(await call("GET", `/resources/${id}`));
    const res = await call("PATCH", `/resources/${id}`, { body: { capacity: 3 } });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: { code: "INVALID_STATE" } });
    expect(await json(await call("GET", `/resources/${id}`))).toEqual(before);
    const last = (await timeline(id)).at(-1);
    expect(last.reason).toBe("capacity 3 is below confirmed + held 4");
  });

  it("lets one of two concurrent PATCHes with the same If-Match win; the other gets 412", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const etag = (await call("GET", `/resources/${id}`)).headers.get("ETag") as string;
    const [a, b] = await Promise.all([
      call("PATCH", `/resources/${id}`, { body: { capacity: 6 }, headers: { "If-Match": etag } }),
      call("PATCH", `/resources/${id}`, { body: { capacity: 7 }, headers: { "If-Match": etag } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const loser = a.status === 412 ? a : b;
    expect(await json(loser)).toMatchObject({ error: { code: "PRECONDITION_FAILED" } });
  });

  it("records every admin action with before/after and the request id in the audit log", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    await call("PATCH", `/resources/${id}`, { body: { capacity: 9 }, headers: { "X-Request-Id": "audit-req-1" } });
    await post(`/resources/${id}/close`);
    await settle(id);
    const audit = await json(await call("GET", "/admin/audit?limit=200"));
    const mine = audit.items.filter((a: any) => a.resource_id === id);
    expect(mine.map((a: any) => a.action)).toEqual(["resource.close", "resource.update", "resource.create"]);
    const update = mine[1];
    expect(update).toMatchObject({
      key_id: "admin",
      request_id: "audit-req-1",
      before: { capacity: 5 },
      after: { capacity: 9 },
    });
  });
});
