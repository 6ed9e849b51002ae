import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { call, createResource, reserve } from "../../helpers";
import { json } from "./support";

/** Readiness, and maintenance mode: writes refused, reads go on. */

describe("health and readiness", () => {
  it("is ready when D1, KV and a Durable Object answer, and names D1 when it fails", async () => {
    const ready = await call("GET", "/ready", { auth: null });
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({ status: "ready", checks: { d1: "ok", kv: "ok", durable_object: "ok" } });

    const failingD1 = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === "prepare" ? () => ({ first: () => Promise.reject(new Error("down")) }) : Reflect.get(target, prop),
    });
    const down = await call("GET", "/ready", { auth: null, env: { DB: failingD1 } });
    expect(down.status).toBe(503);
    expect(down.headers.get("Retry-After")).not.toBeNull();
    expect(await json(down)).toMatchObject({
      error: { code: "UNAVAILABLE", details: [{ field: "d1", issue: "error" }] },
    });
  });
});

describe("maintenance mode", () => {
  afterEach(async () => {
    await call("PUT", "/admin/maintenance", { body: { enabled: false } });
  });

  it("answers writes with 503 MAINTENANCE and Retry-After while reads go on", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    expect((await call("PUT", "/admin/maintenance", { body: { enabled: true, message: "upgrading" } })).status).toBe(
      200,
    );
    const write = await reserve(id);
    expect(write.status).toBe(503);
    expect(write.headers.get("Retry-After")).not.toBeNull();
    expect(await json(write)).toMatchObject({ error: { code: "MAINTENANCE", message: "upgrading" } });
    expect((await call("GET", `/resources/${id}`)).status).toBe(200);
    expect((await call("GET", `/availability?resource_id=${id}`, { auth: null })).status).toBe(200);

    await call("PUT", "/admin/maintenance", { body: { enabled: false } });
    expect((await reserve(id)).status).toBe(201);
  });
});
