import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import { availabilityKey } from "../../src/storage/availability-cache";
import { call, createResource, reserve, settle } from "../helpers";

function objectOf(id: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(id));
}

/** A D1 binding that throws on every call while `down` is set: the real binding, wrapped. */
function faultyD1(real: D1Database, fault: { down: boolean }): D1Database {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (fault.down) throw new Error("D1 is down (injected)");
        return value.apply(target, args);
      };
    },
  });
}

/** A KV binding that counts writes and remembers their options: the real binding, wrapped. */
function countingKv(real: KVNamespace, puts: { key: string; options: unknown }[]): KVNamespace {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "put") return typeof value === "function" ? value.bind(target) : value;
      return (key: string, v: string, options: unknown) => {
        puts.push({ key, options });
        return target.put(key, v, options as KVNamespacePutOptions);
      };
    },
  });
}

async function d1Count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe("outbox to D1", () => {
  it("keeps committing while D1 is down, then drains every row exactly once", async () => {
    const resource = await createResource({ capacity: 1000 });
    const id = resource.id as string;
    const fault = { down: true };
    await runInDurableObject(objectOf(id), (o) => {
      o.bindings.db = faultyD1(o.bindings.db, fault);
    });

    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => reserve(id, { client_id: `c-${i}` })));
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(201));

    await runDurableObjectAlarm(objectOf(id)); // fails: D1 is down
    expect(await runInDurableObject(objectOf(id), (o) => o.outboxBacklog())).toBe(201); // create + 200 reservations
    expect(await d1Count("SELECT COUNT(*) AS n FROM reservations WHERE resource_id = ?", id)).toBe(0);

    fault.down = false;
    await settle(id);
    await runDurableObjectAlarm(objectOf(id)); // a retried alarm must change nothing

    expect(await d1Count("SELECT COUNT(*) AS n FROM reservations WHERE resource_id = ?", id)).toBe(200);
    expect(await d1Count("SELECT COUNT(DISTINCT id) AS n FROM reservations WHERE resource_id = ?", id)).toBe(200);
    expect(await d1Count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(201);
    expect(await d1Count("SELECT COUNT(DISTINCT seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(201);
    const registry = await env.DB.prepare("SELECT confirmed, version FROM resources WHERE id = ?").bind(id).first();
    expect(registry).toEqual({ confirmed: 200, version: 201 });
  });

  it("coalesces 1,000 commits into a few KV writes and ends equal to the truth", async () => {
    const resource = await createResource({ capacity: 5000 });
    const id = resource.id as string;
    const puts: { key: string; options: unknown }[] = [];
    await runInDurableObject(objectOf(id), (o) => {
      o.bindings.kv = countingKv(o.bindings.kv, puts);
    });

    for (let round = 0; round < 10; round++) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, i) => reserve(id, { client_id: `c-${round}-${i}` })),
      );
      expect(batch.every((r) => r.status === 201)).toBe(true);
    }
    await settle(id);

    const mine = puts.filter((p) => p.key === availabilityKey(id));
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(mine.length).toBeLessThanOrEqual(10);
    for (const p of mine) expect(p.options).toEqual({ expirationTtl: 60 });

    const truth = await (await call("GET", `/resources/${id}`)).json<Record<string, unknown>>();
    const cached = await env.AVAILABILITY.get<Record<string, unknown>>(availabilityKey(id), "json");
    expect(cached).toMatchObject({ remaining: truth.remaining, version: truth.version, state: truth.state });
    expect(truth.remaining).toBe(4000);
  });
});

describe("history rows", () => {
  it("carry when they were drained and, for client decisions, how long the decision took", async () => {
    const resource = await createResource({ capacity: 2 });
    const id = resource.id as string;
    for (let i = 0; i < 3; i++) await reserve(id, { client_id: `c${i}` }); // 2 accepted, 1 refused
    await settle(id);

    const { results } = await env.DB.prepare(
      "SELECT type, outcome, server_timestamp, latency_ms, drained_at FROM decision_events WHERE resource_id = ? ORDER BY seq",
    )
      .bind(id)
      .all<{
        type: string;
        outcome: string;
        server_timestamp: number;
        latency_ms: number | null;
        drained_at: number;
      }>();
    expect(results.map((r) => [r.type, r.outcome])).toEqual([
      ["resource.create", "ACCEPTED"],
      ["reservation.reserve", "ACCEPTED"],
      ["reservation.reserve", "ACCEPTED"],
      ["reservation.reserve", "REJECTED"],
    ]);
    for (const r of results) {
      expect(r.drained_at).toBeGreaterThanOrEqual(r.server_timestamp);
      expect(r.latency_ms).toBeGreaterThanOrEqual(0);
    }
  });
});
