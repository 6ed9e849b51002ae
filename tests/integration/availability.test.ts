import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { availabilityKey } from "../../src/storage/availability-cache";
import { call, createResource, reserve, settle, uniqueId } from "../helpers";

const publicGet = (path: string) => call("GET", path, { auth: null });

describe("GET /availability", () => {
  it("answers MISS from the Durable Object, then HIT from KV, with Cache-Control", async () => {
    const resource = await createResource({ capacity: 7 });
    const id = resource.id as string;
    await env.AVAILABILITY.delete(availabilityKey(id)); // the object's alarm may have filled it already

    const first = await publicGet(`/availability?resource_id=${id}`);
    expect(first.status).toBe(200);
    expect(first.headers.get("X-Cache-Status")).toBe("MISS");
    expect(first.headers.get("Cache-Control")).toBe("public, max-age=60");
    const body = await first.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      resource_id: id,
      state: "OPEN",
      capacity: 7,
      remaining: 7,
      waiting_list_enabled: false,
    });
    expect(body.as_of).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const second = await publicGet(`/availability?resource_id=${id}`);
    expect(second.headers.get("X-Cache-Status")).toBe("HIT");
    expect(await second.json()).toEqual(body);
  });

  it("never shows more remaining than the truth had at its as_of", async () => {
    const resource = await createResource({ capacity: 50 });
    const id = resource.id as string;
    const samples: Record<string, any>[] = [];
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => reserve(id, { client_id: `c-${round}-${i}` })));
      await settle(id);
      samples.push(await (await publicGet(`/availability?resource_id=${id}`)).json());
    }
    // The timeline says what remained after every decision; a snapshot taken at
    // as_of must not promise more than the last decision at or before it left.
    const timeline = await (await call("GET", `/admin/resources/${id}/timeline?limit=1000`)).json<{ items: any[] }>();
    for (const s of samples) {
      const before = timeline.items.filter((e) => Date.parse(e.server_timestamp) <= Date.parse(s.as_of));
      const confirmedThen = before.filter((e) => e.outcome === "ACCEPTED" && e.type === "reservation.reserve").length;
      expect(s.remaining).toBeLessThanOrEqual(50 - confirmedThen);
    }
  });

  it("answers 404 for an unknown id and caches that briefly, until the resource is created", async () => {
    const id = uniqueId("later");
    const miss = await publicGet(`/availability?resource_id=${id}`);
    expect(miss.status).toBe(404);
    expect(await miss.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    // Only the engine caches it (KV); no browser or CDN may keep the 404 once the resource exists.
    expect(miss.headers.get("Cache-Control")).toBe("no-store");
    const cached = await publicGet(`/availability?resource_id=${id}`);
    expect(cached.status).toBe(404);
    expect(cached.headers.get("X-Cache-Status")).toBe("HIT");
    expect(cached.headers.get("Cache-Control")).toBe("no-store");

    await createResource({ id, capacity: 3 });
    const found = await publicGet(`/availability?resource_id=${id}`);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ remaining: 3 });
  });

  it("answers a batch with one item per known id", async () => {
    const a = await createResource({ capacity: 1 });
    const b = await createResource({ capacity: 2 });
    const res = await publicGet(`/availability?resource_ids=${a.id},${uniqueId("nope")},${b.id}`);
    expect(res.status).toBe(200);
    const body = await res.json<{ items: { resource_id: string; remaining: number }[] }>();
    expect(body.items.map((i) => [i.resource_id, i.remaining])).toEqual([
      [a.id, 1],
      [b.id, 2],
    ]);
  });

  it("refuses both or neither of resource_id and resource_ids, and more than 100 ids", async () => {
    const neither = await publicGet("/availability");
    expect(neither.status).toBe(400);
    expect(neither.headers.get("Cache-Control")).toBe("no-store");
    expect((await publicGet("/availability?resource_id=a&resource_ids=b")).status).toBe(400);
    const many = Array.from({ length: 101 }, (_, i) => `r${i}`).join(",");
    expect((await publicGet(`/availability?resource_ids=${many}`)).status).toBe(400);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real namespace, whose `get` waits `delayMs` first; counts the reads. */
function countedKv(delayMs = 0) {
  const reads = { get: 0 };
  const kv = new Proxy(env.AVAILABILITY, {
    get(target, prop) {
      const real = Reflect.get(target, prop);
      if (prop !== "get") return typeof real === "function" ? real.bind(target) : real;
      return async (...args: unknown[]) => {
        reads.get += 1;
        await sleep(delayMs);
        return (real as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return { kv, reads };
}

describe("GET /availability and this isolate's copy", () => {
  const read = (id: string, kv: KVNamespace, isolateMs: string) =>
    call("GET", `/availability?resource_id=${id}`, {
      auth: null,
      env: { AVAILABILITY: kv, AVAILABILITY_ISOLATE_CACHE_MS: isolateMs } as Partial<Env>,
    });

  it("reuses a fresh copy without reading KV, and reads KV again once it is stale", async () => {
    const { id } = (await createResource({ capacity: 5 })) as { id: string };
    const { kv, reads } = countedKv();
    expect((await read(id, kv, "2000")).status).toBe(200);
    const first = reads.get;
    expect(first).toBe(1);
    for (let i = 0; i < 5; i++) expect((await read(id, kv, "2000")).headers.get("X-Cache-Status")).toBe("HIT");
    expect(reads.get).toBe(first);
    await sleep(2100);
    await read(id, kv, "2000");
    expect(reads.get).toBe(first + 1);
  });

  it("lets one request refresh a stale copy while a burst is served the stale one: one KV read", async () => {
    const { id } = (await createResource({ capacity: 5 })) as { id: string };
    const { kv, reads } = countedKv(150);
    await read(id, kv, "50");
    await sleep(80);
    const before = reads.get;
    const burst = await Promise.all(Array.from({ length: 10 }, () => read(id, kv, "50")));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(burst.map((r) => r.headers.get("X-Cache-Status"))).toEqual(Array(10).fill("HIT"));
    expect(reads.get - before).toBe(1);
  });

  it("reads KV every time when the isolate cache is off (0)", async () => {
    const { id } = (await createResource({ capacity: 5 })) as { id: string };
    const { kv, reads } = countedKv();
    for (let i = 0; i < 4; i++) await read(id, kv, "0");
    expect(reads.get).toBe(4);
  });
});

describe("GET /availability when KV fails", () => {
  it("falls back to the Durable Object", async () => {
    const resource = await createResource({ capacity: 4 });
    const broken = new Proxy(env.AVAILABILITY, {
      get: (target, prop) =>
        prop === "get" || prop === "put"
          ? () => Promise.reject(new Error("KV down (injected)"))
          : Reflect.get(target, prop),
    });
    const res = await call("GET", `/availability?resource_id=${resource.id}`, {
      auth: null,
      env: { AVAILABILITY: broken },
      headers: { "CF-Connecting-IP": "198.51.100.9" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Cache-Status")).toBe("MISS");
    expect(await res.json()).toMatchObject({ resource_id: resource.id, remaining: 4 });
  });
});
