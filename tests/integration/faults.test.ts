import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createResource, reserve } from "../helpers";

/**
 * Platform faults injected by wrapping the real bindings: a slow KV and a
 * Durable Object that reports overload. The truth is never guessed: reads
 * fall back to the object, and only an unreachable object gives 503.
 */

const json = (res: Response) => res.json<Record<string, any>>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real KV binding, with every get and put held back `delayMs` first; `settled` counts finished calls. */
function slowKv(delayMs: number) {
  const settled = { get: 0, put: 0 };
  const kv = new Proxy(env.AVAILABILITY, {
    get(target, prop) {
      const real = Reflect.get(target, prop);
      if (prop !== "get" && prop !== "put") return typeof real === "function" ? real.bind(target) : real;
      return async (...args: unknown[]) => {
        await sleep(delayMs);
        const result = await (real as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        settled[prop] += 1;
        return result;
      };
    },
  });
  return { kv, settled };
}

/** The real namespace, whose stubs throw the runtime's overload error for `methods` and count every call. */
function overloadedObjects(methods: string[]) {
  const calls: string[] = [];
  const ns = env.RESOURCE_OBJECT;
  const wrapped = new Proxy(ns, {
    get(target, prop) {
      const real = Reflect.get(target, prop);
      if (prop !== "get") return typeof real === "function" ? real.bind(target) : real;
      return (id: DurableObjectId) => {
        const stub = target.get(id);
        return new Proxy(stub, {
          get(s, method) {
            const fn = Reflect.get(s, method);
            if (typeof method !== "string" || typeof fn !== "function") return fn;
            return (...args: unknown[]) => {
              calls.push(method);
              if (methods.includes(method)) {
                const err = new Error("Durable Object is overloaded. Too many requests queued.");
                return Promise.reject(Object.assign(err, { overloaded: true }));
              }
              return fn.apply(s, args);
            };
          },
        });
      };
    },
  });
  return { ns: wrapped, calls };
}

describe("a slow KV", () => {
  it("does not hold up availability: the object answers, and KV is filled after the response", async () => {
    const resource = await createResource({ capacity: 6 });
    await reserve(resource.id as string);
    const { kv, settled } = slowKv(1500);

    const res = await call("GET", `/availability?resource_id=${resource.id}`, {
      auth: null,
      env: { AVAILABILITY: kv, KV_READ_TIMEOUT_MS: "50" } as Partial<Env>,
      headers: { "CF-Connecting-IP": "198.51.100.20" },
    });

    expect(res.status).toBe(200);
    expect(res.headers.get("X-Cache-Status")).toBe("MISS");
    expect(await json(res)).toMatchObject({ resource_id: resource.id, remaining: 5 });
    // The answer left before KV finished either the read or the fill.
    expect(settled).toEqual({ get: 0, put: 0 });
  });
});

describe("a Durable Object reporting overload", () => {
  it("gives 503 UNAVAILABLE with Retry-After, is called once (no retry storm) and changes nothing", async () => {
    const resource = await createResource({ capacity: 3 });
    const id = resource.id as string;
    const { ns, calls } = overloadedObjects(["reserve", "get"]);
    const overloaded = { RESOURCE_OBJECT: ns } as Partial<Env>;

    const refused = await call("POST", "/reservations", {
      body: { resource_id: id, client_id: "c", quantity: 1 },
      headers: { "Idempotency-Key": "overload-1" },
      env: overloaded,
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("Retry-After")).toBe("1");
    const body = await json(refused);
    expect(body.error).toMatchObject({ code: "UNAVAILABLE" });
    expect(JSON.stringify(body)).not.toMatch(/overloaded|queued|at .*\.ts/);
    expect(calls.filter((m) => m === "reserve")).toHaveLength(1);

    const read = await call("GET", `/resources/${id}`, { env: overloaded });
    expect(read.status).toBe(503);

    // The fault clears: the same idempotency key commits once, as a first attempt.
    const after = await json(await call("GET", `/resources/${id}`));
    expect(after).toMatchObject({ confirmed: 0, held: 0 });
    const retried = await call("POST", "/reservations", {
      body: { resource_id: id, client_id: "c", quantity: 1 },
      headers: { "Idempotency-Key": "overload-1" },
    });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("Idempotent-Replayed")).not.toBe("true");
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({ confirmed: 1 });
  });
});

describe("waiting-list callback_url (SSRF)", () => {
  async function waitingCount(id: string): Promise<number> {
    return (await json(await call("GET", `/resources/${id}`))).waiting_list_length;
  }

  it("refuses loopback, private, link-local and metadata targets with 400 and joins nobody", async () => {
    const resource = await createResource({ capacity: 1, waiting_list_enabled: true });
    const id = resource.id as string;
    expect((await reserve(id)).status).toBe(201); // full, so a joiner waits
    for (const url of [
      "https://127.0.0.1/hook",
      "https://[::1]/hook",
      "https://169.254.169.254/latest/meta-data/",
      "https://10.0.0.5/hook",
      "https://metadata.google.internal/",
      "https://localhost:8788/hook",
      "http://hooks.example.com/hook",
    ]) {
      const res = await call("POST", "/waiting-list/join", {
        body: { resource_id: id, client_id: "w", callback_url: url },
      });
      expect(res.status, url).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("VALIDATION_ERROR");
      expect(body.error.details).toContainEqual({ field: "callback_url", issue: "unsafe_target" });
    }
    expect(await waitingCount(id)).toBe(0);

    const ok = await call("POST", "/waiting-list/join", {
      body: { resource_id: id, client_id: "w", callback_url: "https://hooks.example.com/hook" },
    });
    expect(ok.status).toBe(201);
    expect(await waitingCount(id)).toBe(1);
  });

  it("accepts a local http receiver when ALLOW_PRIVATE_CALLBACKS is on (development)", async () => {
    const resource = await createResource({ capacity: 1, waiting_list_enabled: true });
    const res = await call("POST", "/waiting-list/join", {
      body: { resource_id: resource.id, client_id: "w", callback_url: "http://127.0.0.1:8788/hook" },
      env: { ALLOW_PRIVATE_CALLBACKS: "true" } as Partial<Env>,
    });
    expect(res.status).toBe(201);
  });
});
