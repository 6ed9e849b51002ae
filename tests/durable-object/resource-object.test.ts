import { abortAllDurableObjects, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { resourceStub } from "../../src/resource-object/address";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import { call, createResource, reserve, uniqueId } from "../helpers";

function objectOf(id: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(id));
}

describe("ResourceObject", () => {
  it("keeps every committed reservation when the object is evicted and restarted", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const made = await (await reserve(id, { quantity: 3 })).json<Record<string, unknown>>();

    await abortAllDurableObjects();

    const state = await (await call("GET", `/resources/${id}`)).json<Record<string, number>>();
    expect(state).toMatchObject({ confirmed: 3, remaining: 2, version: 2 });
    const again = await (await call("GET", `/reservations/${made.id}`)).json<Record<string, unknown>>();
    expect(again).toEqual(made);
    // The sequence goes on where it stopped: no server_seq is handed out twice.
    const next = await (await reserve(id)).json<Record<string, number>>();
    expect(next.server_seq).toBe(3);
  });

  it("leaves no storage behind when an unknown id is only probed", async () => {
    const id = uniqueId("ghost");
    expect((await call("GET", `/resources/${id}`)).status).toBe(404);
    expect((await reserve(id)).status).toBe(404);
    const stored = await runInDurableObject(objectOf(id), (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(stored).toEqual([]);
  });

  it("decides the booking window by its injectable clock, not by sleeping", async () => {
    const opens = Date.parse("2030-01-01T09:00:00.000Z");
    const resource = await createResource({
      capacity: 5,
      booking_opens_at: new Date(opens).toISOString(),
      booking_closes_at: new Date(opens + 3_600_000).toISOString(),
    });
    const id = resource.id as string;
    const stub = objectOf(id);

    expect((await reserve(id)).status).toBe(409); // today is before 2030
    await runInDurableObject(stub, (instance) => {
      instance.clock = () => opens;
    });
    const inside = await reserve(id);
    expect(inside.status).toBe(201);
    expect((await inside.json<Record<string, string>>()).server_timestamp).toBe("2030-01-01T09:00:00.000Z");
    await runInDurableObject(stub, (instance) => {
      instance.clock = () => opens + 3_600_000;
    });
    const after = await reserve(id);
    expect(await after.json()).toMatchObject({ status: "REJECTED", error: { code: "RESOURCE_CLOSED" } });

    const timeline = await resourceStub(env, id).timeline({ afterSeq: 0, limit: 10 });
    expect(timeline?.items.map((e) => e.reason)).toEqual([
      "created with capacity 5",
      "booking window opens at 2030-01-01T09:00:00.000Z",
      "confirmed 1, remaining 4",
      "booking window closed at 2030-01-01T10:00:00.000Z",
    ]);
  });

  it("never hands out a server_timestamp earlier than the last one, even if the clock steps back", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const first = await (await reserve(id)).json<Record<string, string>>();
    await runInDurableObject(objectOf(id), (instance) => {
      instance.clock = () => Date.parse(first.server_timestamp as string) - 60_000;
    });
    const second = await (await reserve(id)).json<Record<string, string>>();
    expect(second.server_timestamp).toBe(first.server_timestamp);
    expect(Number(second.server_seq)).toBeGreaterThan(Number(first.server_seq));
  });

  it("closes and reopens idempotently, refusing new reservations while closed", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const closed = await call("POST", `/resources/${id}/close`);
    expect(closed.status).toBe(200);
    expect(closed.headers.get("ETag")).toBe('"2"');
    expect(await closed.json()).toMatchObject({ state: "CLOSED", version: 2 });
    expect(await (await call("POST", `/resources/${id}/close`)).json()).toMatchObject({ state: "CLOSED", version: 2 });
    expect(await (await reserve(id)).json()).toMatchObject({ error: { code: "RESOURCE_CLOSED" } });
    expect(await (await call("POST", `/resources/${id}/reopen`)).json()).toMatchObject({ state: "OPEN", version: 3 });
    expect((await reserve(id)).status).toBe(201);
  });

  it("routes each resource to its own object", async () => {
    const a = await createResource({ capacity: 1 });
    const b = await createResource({ capacity: 1 });
    expect((await reserve(a.id as string)).status).toBe(201);
    expect((await reserve(b.id as string)).status).toBe(201);
    const ids = await listDurableObjectIds(env.RESOURCE_OBJECT);
    const names = [objectOf(a.id as string).id.toString(), objectOf(b.id as string).id.toString()];
    expect(ids.map((i) => i.toString())).toEqual(expect.arrayContaining(names));
  });
});
