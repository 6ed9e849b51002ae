import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findKey, KEY_FALLBACK_MS, parseKey } from "../../src/storage/api-keys";
import { D1Unavailable } from "../../src/storage/d1";
import { call, createResource, downD1, settle } from "../helpers";

/**
 * docs/api.md "While a dependency is down": booking never depends on D1. D1
 * is taken down by wrapping the real binding for the Worker (the request's
 * env). The objects never touch D1 (their history goes through a queue,
 * whose consumer retries while D1 fails: tests/durable-object/outbox.test.ts).
 */

const json = (res: Response) => res.json<Record<string, any>>();
const fault = { down: false };
const d1Down = { DB: downD1(env.DB, fault) } as Partial<Env>;

async function issueKey(): Promise<{ id: string; key: string }> {
  const res = await call("POST", "/admin/api-keys", { body: { name: "outage", role: "client" } });
  expect(res.status).toBe(201);
  return json(res) as Promise<{ id: string; key: string }>;
}

describe("while D1 is down", () => {
  it("books with a recently verified key, answers 503 (not 401, not 500) where D1 is needed, and catches up", async () => {
    const resource = await createResource({ capacity: 10, waiting_list_enabled: true });
    const id = resource.id as string;
    const verified = await issueKey();
    const neverSeen = await issueKey();
    // Verified once while D1 is up.
    const first = await call("POST", "/reservations", {
      body: { resource_id: id, client_id: "a" },
      auth: verified.key,
    });
    expect(first.status).toBe(201);
    await call("GET", "/admin/maintenance"); // this isolate knows the setting (off)

    fault.down = true;
    try {
      const asClient = (method: string, path: string, body?: unknown) =>
        call(method, path, { body, auth: verified.key, env: d1Down });
      const held = await asClient("POST", "/reservations", { resource_id: id, client_id: "b", hold: true });
      expect(held.status).toBe(201);
      const hold = await json(held);
      expect((await asClient("POST", `/reservations/${hold.id}/confirm`)).status).toBe(200);
      expect((await asClient("POST", `/reservations/${hold.id}/check-in`)).status).toBe(200);
      const other = await json(await asClient("POST", "/reservations", { resource_id: id, client_id: "c" }));
      expect((await asClient("POST", `/reservations/${other.id}/cancel`)).status).toBe(200);
      expect((await asClient("POST", "/waiting-list/join", { resource_id: id, client_id: "w" })).status).toBe(201);
      expect((await call("GET", `/resources/${id}`, { env: d1Down })).status).toBe(200);

      // A key never verified here may exist: 503 with Retry-After, not 401. A malformed one is still 401.
      const unknown = await call("POST", "/reservations", {
        body: { resource_id: id, client_id: "d" },
        auth: neverSeen.key,
        env: d1Down,
      });
      expect(unknown.status).toBe(503);
      expect(unknown.headers.get("Retry-After")).not.toBeNull();
      expect(await json(unknown)).toMatchObject({ error: { code: "UNAVAILABLE" } });
      expect((await call("GET", "/resources", { auth: "not-a-key", env: d1Down })).status).toBe(401);

      for (const [method, path, body] of [
        ["GET", "/resources"],
        ["GET", `/admin/reservations/export?resource_id=${id}&format=csv`],
        ["GET", "/admin/audit"],
        ["GET", "/admin/api-keys"],
        ["POST", "/admin/api-keys", { name: "k", role: "client" }],
        ["DELETE", `/admin/api-keys/${neverSeen.id}`],
        ["GET", "/admin/analytics"],
        ["GET", "/admin/dead-letters"],
        ["GET", "/metrics"],
        ["GET", "/admin/reconciliation"],
        ["POST", "/admin/reconciliation", { resource_ids: [id] }],
      ] as [string, string, unknown?][]) {
        const res = await call(method, path, { body, env: d1Down });
        const text = await res.text();
        expect({ path, method, status: res.status }).toEqual({ path, method, status: 503 });
        expect(res.headers.get("Retry-After")).toBe("5");
        expect(JSON.parse(text).error.code).toBe("UNAVAILABLE");
        expect(text).not.toMatch(/D1_ERROR|SELECT|injected/);
      }
      // The last known maintenance setting is still answered.
      expect(await json(await call("GET", "/admin/maintenance", { env: d1Down }))).toMatchObject({ enabled: false });
    } finally {
      fault.down = false;
    }

    // D1 is back: the history catches up with everything decided meanwhile.
    await settle(id);
    const timeline = await json(await call("GET", `/admin/resources/${id}/timeline`));
    const inD1 = await env.DB.prepare("SELECT seq FROM decision_events WHERE resource_id = ? ORDER BY seq")
      .bind(id)
      .all<{ seq: number }>();
    expect(inD1.results.map((r) => r.seq)).toEqual(timeline.items.map((e: { seq: number }) => e.seq));
    expect(timeline.items.length).toBeGreaterThanOrEqual(8);
  });

  it("keeps a verified key for 15 minutes, then needs D1 again", async () => {
    const made = await issueKey();
    const keyId = parseKey(made.key)?.id as string;
    const now = Date.now();
    const record = await findKey(env.DB, keyId, now);
    const down = downD1(env.DB);
    expect(await findKey(down, keyId, now + KEY_FALLBACK_MS - 1000)).toEqual(record);
    await expect(findKey(down, keyId, now + KEY_FALLBACK_MS)).rejects.toBeInstanceOf(D1Unavailable);
  });

  it("keeps the last known maintenance setting", async () => {
    const resource = await createResource({ capacity: 5 });
    const put = await call("PUT", "/admin/maintenance", { body: { enabled: true, message: "upgrading" } });
    expect(put.status).toBe(200);
    fault.down = true;
    try {
      await new Promise((r) => setTimeout(r, 5_100)); // past the settings cache: D1 is asked, and fails
      const write = await call("POST", "/reservations", {
        body: { resource_id: resource.id, client_id: "m" },
        env: d1Down,
      });
      expect(write.status).toBe(503);
      expect(await json(write)).toMatchObject({ error: { code: "MAINTENANCE", message: "upgrading" } });
      expect(await json(await call("GET", "/admin/maintenance", { env: d1Down }))).toMatchObject({ enabled: true });
    } finally {
      fault.down = false;
      await call("PUT", "/admin/maintenance", { body: { enabled: false } });
    }
  });
});
