import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Reservation } from "../../src/domain/reservation";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import { call, createResource, reserve } from "../helpers";

function objectOf(id: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(id));
}

/** The object's store, reached for fault injection: the wrapped store is the real one. */
type StoreOf = { store: { insertReservation(r: Reservation): void } };

async function groupStats(id: string) {
  return runInDurableObject(objectOf(id), (o) => ({ ...o.groupCommit.stats }));
}

async function timelineTypes(id: string): Promise<{ seq: number; type: string }[]> {
  const res = await call("GET", `/admin/resources/${id}/timeline?limit=500`);
  const page = await res.json<{ items: { seq: number; type: string }[] }>();
  return page.items.map((e) => ({ seq: e.seq, type: e.type }));
}

describe("group commit", () => {
  it("decides concurrent commands in fewer transactions than commands, each exactly once", async () => {
    const resource = await createResource({ capacity: 30 });
    const id = resource.id as string;
    const before = await groupStats(id);

    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(id, { client_id: `c-${i}` })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(30);
    expect(statuses.filter((s) => s === 409)).toHaveLength(20);

    const after = await groupStats(id);
    expect(after.commands - before.commands).toBe(50);
    expect(after.groups - before.groups).toBeLessThan(50);
    expect(after.largest).toBeGreaterThan(1);

    // server_seq runs 1 (create) to 51 without a gap or a repeat.
    const seqs = (await timelineTypes(id)).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    const state = await (await call("GET", `/resources/${id}`)).json<Record<string, number>>();
    expect(state).toMatchObject({ confirmed: 30, remaining: 0 });
  });

  it("fails only the command that throws; the rest of its group commits", async () => {
    const resource = await createResource({ capacity: 100 });
    const id = resource.id as string;
    await runInDurableObject(objectOf(id), (o) => {
      const store = (o as unknown as StoreOf).store;
      const insert = store.insertReservation.bind(store);
      store.insertReservation = (r) => {
        insert(r); // the row is written, then the command fails: the rollback must take it back
        if (r.clientId === "boom") throw new Error("injected storage failure");
      };
    });

    const clients = Array.from({ length: 20 }, (_, i) => (i === 7 ? "boom" : `c-${i}`));
    const responses = await Promise.all(clients.map((client_id) => reserve(id, { client_id })));
    const byClient = new Map(clients.map((c, i) => [c, responses[i] as Response]));

    const failed = byClient.get("boom") as Response;
    expect(failed.status).toBe(500);
    const body = await failed.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("INTERNAL");
    expect(JSON.stringify(body)).not.toContain("injected");
    for (const [client, res] of byClient) if (client !== "boom") expect(res.status).toBe(201);

    const state = await (await call("GET", `/resources/${id}`)).json<Record<string, number>>();
    expect(state).toMatchObject({ confirmed: 19, remaining: 81 });
    // Nothing of the failed command was recorded, and no seq was skipped for it.
    const entries = await timelineTypes(id);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(entries.filter((e) => e.type === "reservation.reserve")).toHaveLength(19);
    const rows = await runInDurableObject(objectOf(id), (_o, state) =>
      state.storage.sql.exec("SELECT client_id FROM reservations").toArray(),
    );
    expect(rows).toHaveLength(19);
    expect(rows.map((r) => r.client_id)).not.toContain("boom");
  });
});
