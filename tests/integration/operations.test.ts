import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { IMPORT_HEADER } from "../../src/wire/csv-import";
import { ADMIN_TOKEN, call, createResource, reserve } from "../helpers";
import { expectDocumented, openApiDoc } from "../support/documented";

const json = (res: Response) => res.json<Record<string, any>>();

async function issueKey(role: "admin" | "client"): Promise<{ id: string; key: string }> {
  const res = await call("POST", "/admin/api-keys", { body: { name: `${role} key`, role } });
  expect(res.status).toBe(201);
  return json(res) as Promise<{ id: string; key: string }>;
}

describe("API keys and roles", () => {
  it("answers every documented route with its documented status for each kind of key", async () => {
    const client = await issueKey("client");
    const revoked = await issueKey("client");
    expect((await call("DELETE", `/admin/api-keys/${revoked.id}`)).status).toBe(200);
    const id = (await createResource({ capacity: 1000, waiting_list_enabled: true })).id as string;
    const reservationId = async (hold = false) => (await json(await reserve(id, { hold }))).id as string;
    const confirmed = async () => reservationId();
    let n = 0;
    const entryId = async () =>
      (await json(await call("POST", "/waiting-list/join", { body: { resource_id: id, client_id: `w${++n}` } })))
        .id as string;
    const keyId = async () => (await issueKey("client")).id;
    const csv = { raw: `${IMPORT_HEADER.join(",")}\n`, headers: { "Content-Type": "text/csv" } };

    // A request each documented route answers with success when the key may call it; fresh objects where a
    // success can happen only once (a check-in, a revocation).
    type Request = { path: string; body?: unknown; raw?: string; headers?: Record<string, string> };
    const requests: Record<string, () => Promise<Request>> = {
      "POST /reservations": async () => ({ path: "/reservations", body: { resource_id: id, client_id: "m" } }),
      "GET /reservations/{id}": async () => ({ path: `/reservations/${await reservationId()}` }),
      "POST /reservations/{id}/confirm": async () => ({ path: `/reservations/${await reservationId(true)}/confirm` }),
      "POST /reservations/{id}/cancel": async () => ({ path: `/reservations/${await reservationId()}/cancel` }),
      "POST /reservations/{id}/check-in": async () => ({ path: `/reservations/${await confirmed()}/check-in` }),
      "POST /waiting-list/join": async () => ({
        path: "/waiting-list/join",
        body: { resource_id: id, client_id: "m" },
      }),
      "GET /waiting-list/{id}": async () => ({ path: `/waiting-list/${await entryId()}` }),
      "DELETE /waiting-list/{id}": async () => ({ path: `/waiting-list/${await entryId()}` }),
      "DELETE /waiting-list/leave": async () => ({ path: "/waiting-list/leave", body: { entry_id: await entryId() } }),
      "GET /availability": async () => ({ path: `/availability?resource_id=${id}` }),
      "POST /resources": async () => ({ path: "/resources", body: { type: "t", capacity: 1 } }),
      "GET /resources": async () => ({ path: "/resources" }),
      "GET /resources/{id}": async () => ({ path: `/resources/${id}` }),
      "PATCH /resources/{id}": async () => ({ path: `/resources/${id}`, body: { metadata: { a: 1 } } }),
      "POST /resources/{id}/close": async () => ({ path: `/resources/${id}/close` }),
      "POST /resources/{id}/reopen": async () => ({ path: `/resources/${id}/reopen` }),
      "GET /admin/resources/{id}/timeline": async () => ({ path: `/admin/resources/${id}/timeline` }),
      "GET /admin/audit": async () => ({ path: "/admin/audit" }),
      "GET /admin/dead-letters": async () => ({ path: "/admin/dead-letters" }),
      "GET /admin/reservations/export": async () => ({ path: "/admin/reservations/export" }),
      "POST /admin/resources/import": async () => ({ path: "/admin/resources/import?dry_run=true", ...csv }),
      "POST /admin/api-keys": async () => ({ path: "/admin/api-keys", body: { name: "m", role: "client" } }),
      "GET /admin/api-keys": async () => ({ path: "/admin/api-keys" }),
      "DELETE /admin/api-keys/{id}": async () => ({ path: `/admin/api-keys/${await keyId()}` }),
      "GET /admin/maintenance": async () => ({ path: "/admin/maintenance" }),
      "PUT /admin/maintenance": async () => ({ path: "/admin/maintenance", body: { enabled: false } }),
      "GET /admin/reconciliation": async () => ({ path: "/admin/reconciliation" }),
      "POST /admin/reconciliation": async () => ({ path: "/admin/reconciliation", body: { resource_ids: [id] } }),
      "GET /admin/analytics": async () => ({ path: "/admin/analytics" }),
      "GET /health": async () => ({ path: "/health" }),
      "GET /ready": async () => ({ path: "/ready" }),
      "GET /metrics": async () => ({ path: "/metrics" }),
      "GET /openapi.json": async () => ({ path: "/openapi.json" }),
      "GET /docs": async () => ({ path: "/docs" }),
    };
    const doc = openApiDoc();
    const operations = Object.entries(doc.paths as Record<string, Record<string, Record<string, any>>>).flatMap(
      ([path, item]) => Object.entries(item).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );
    // Every route the document lists has a request here, and nothing else.
    expect(Object.keys(requests).sort()).toEqual(operations.map((o) => o.route).sort());

    const keys = {
      none: null,
      forged: "rk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      revoked: revoked.key,
      client: client.key,
      admin: ADMIN_TOKEN,
    };
    for (const { route, op } of operations) {
      const roles = op["x-roles"] as string[];
      const successes = Object.keys(op.responses).filter((s) => s.startsWith("2"));
      for (const [kind, key] of Object.entries(keys)) {
        const { path, ...rest } = await (requests[route] as () => Promise<Request>)();
        const method = route.split(" ")[0] as string;
        const res = await call(method, path, { ...rest, auth: key });
        const allowed =
          roles.length === 0 ||
          (kind === "admin" && roles.includes("admin")) ||
          (kind === "client" && roles.includes("client"));
        const denied = roles.length > 0 && (kind === "client" ? "403" : "401");
        const expected = allowed ? successes : [denied];
        expect({ route, kind, ok: expected.includes(String(res.status)) }, `${route} ${kind}: ${res.status}`).toEqual({
          route,
          kind,
          ok: true,
        });
        await expectDocumented(method, path, res);
        await res.arrayBuffer();
      }
    }
  });

  it("shows a key once, stores only its hash, and lists keys without secrets", async () => {
    const made = await issueKey("client");
    expect(made.key).toMatch(/^rk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(made.id)
      .first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(made.key.split("_").at(-1));
    const listed = await json(await call("GET", "/admin/api-keys"));
    expect(JSON.stringify(listed)).not.toContain(made.key);
    expect(listed.items.find((k: any) => k.id === made.id)).toMatchObject({ role: "client", revoked_at: null });
  });
});

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

describe("request logs", () => {
  it("writes one JSON line per request without any key or the ADMIN_TOKEN", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    try {
      const client = await issueKey("client");
      const resource = await createResource({ capacity: 1 });
      await call("POST", "/reservations", { body: { resource_id: resource.id, client_id: "x" }, auth: client.key });
      await call("POST", "/reservations", { body: { resource_id: resource.id, client_id: "y" }, auth: client.key });
      const requests = lines.map((l) => JSON.parse(l)).filter((l) => "route" in l);
      expect(requests.length).toBeGreaterThanOrEqual(4);
      expect(requests.at(-1)).toMatchObject({
        route: "/reservations",
        status: 409,
        outcome: "RESOURCE_FULL",
        key_id: client.id,
      });
      for (const l of lines) {
        expect(l).not.toContain(ADMIN_TOKEN);
        expect(l).not.toContain(client.key);
      }
    } finally {
      spy.mockRestore();
    }
  });
});

describe("rate limits", () => {
  it("answers a burst of writes over the limit with 429 and Retry-After, and spares other keys", async () => {
    const noisy = await issueKey("client");
    const quiet = await issueKey("client");
    const resource = await createResource({ capacity: 1_000_000 });
    const statuses: number[] = [];
    // The limit is 600 per 60 s window; a burst that straddles a window boundary
    // starts counting again, so it may take up to twice that to be refused.
    for (let i = 0; i < 1_300; i++) {
      const res = await call("POST", "/reservations", {
        body: { resource_id: resource.id, client_id: "n" },
        auth: noisy.key,
      });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get("Retry-After")).toBe("60");
        expect(await json(res)).toMatchObject({ error: { code: "RATE_LIMITED" } });
        break;
      }
      await res.arrayBuffer();
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(500);
    const other = await call("POST", "/reservations", {
      body: { resource_id: resource.id, client_id: "q" },
      auth: quiet.key,
    });
    expect(other.status).toBe(201);
  });

  it("limits public reads per client IP", async () => {
    const resource = await createResource({ capacity: 1 });
    let last = 0;
    for (let i = 0; i < 1300 && last !== 429; i++) {
      const res = await call("GET", `/availability?resource_id=${resource.id}`, {
        auth: null,
        headers: { "CF-Connecting-IP": "203.0.113.7" },
      });
      last = res.status;
      await res.arrayBuffer();
    }
    expect(last).toBe(429);
    const otherIp = await call("GET", `/availability?resource_id=${resource.id}`, {
      auth: null,
      headers: { "CF-Connecting-IP": "203.0.113.8" },
    });
    expect(otherIp.status).toBe(200);
  });
});

describe("request ids", () => {
  it("keeps one id per request, even for a path that is literally /* (found by the hostile-input property)", async () => {
    const res = await call("GET", "/*", { auth: null });
    expect(res.status).toBe(404);
    expect((await json(res)).error.request_id).toBe(res.headers.get("X-Request-Id"));
  });
});

describe("configuration", () => {
  it("creates resources with the configured hold TTL unless the body names one", async () => {
    const configured = { DEFAULT_HOLD_TTL_SECONDS: "120" } as Partial<Env>;
    const body = (id: string, extra = {}) => ({ id, type: "session", capacity: 1, ...extra });
    const a = await call("POST", "/resources", { body: body(`ttl-a-${crypto.randomUUID()}`), env: configured });
    const b = await call("POST", "/resources", {
      body: body(`ttl-b-${crypto.randomUUID()}`, { hold_ttl_seconds: 45 }),
      env: configured,
    });
    const c = await call("POST", "/resources", { body: body(`ttl-c-${crypto.randomUUID()}`) });
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    expect((await json(a)).hold_ttl_seconds).toBe(120);
    expect((await json(b)).hold_ttl_seconds).toBe(45);
    expect((await json(c)).hold_ttl_seconds).toBe(600);
  });

  it("fails closed on a bad value: 500 without details for the client, the variable named in the log", async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      errors.push(String(line));
    });
    try {
      const res = await call("GET", "/availability?resource_id=anything", {
        auth: null,
        env: { KV_READ_TIMEOUT_MS: "soon" } as Partial<Env>,
      });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text).error.code).toBe("INTERNAL");
      expect(text).not.toContain("KV_READ_TIMEOUT_MS");
      expect(errors.join("\n")).toContain("KV_READ_TIMEOUT_MS");
    } finally {
      spy.mockRestore();
    }
  });
});
