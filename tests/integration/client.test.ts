import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createEngineClient } from "../../client";
import worker from "../../src/index";
import { ADMIN_TOKEN, uniqueId } from "../helpers";
import { problems } from "../support/documented";

/** The typed client (client/index.ts) against the Worker's fetch handler; every answer checked against the document. */
function engine(key: string | undefined, seen: string[]) {
  const api = createEngineClient({
    baseUrl: "http://engine.test",
    key,
    fetch: async (request: Request) => worker.fetch(request, env, createExecutionContext()),
  });
  api.use({
    async onResponse({ request, response }) {
      const url = new URL(request.url);
      seen.push(...(await problems(request.method, url.pathname + url.search, response)));
    },
  });
  return api;
}

describe("the typed client (openapi-fetch over the generated types)", () => {
  it("creates a resource, reserves, holds, confirms, cancels and reads availability", async () => {
    const seen: string[] = [];
    const admin = engine(ADMIN_TOKEN, seen);
    const issued = await admin.POST("/admin/api-keys", { body: { name: "client test", role: "client" } });
    expect(issued.response.status).toBe(201);
    const api = engine(issued.data?.key, seen);
    const anyone = engine(undefined, seen);

    const id = uniqueId("client");
    const created = await admin.POST("/resources", { body: { id, type: "session", capacity: 3 } });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ id, capacity: 3, remaining: 3, state: "OPEN" });
    expect(created.response.headers.get("ETag")).toBe(`"${created.data?.version}"`);

    const booked = await api.POST("/reservations", {
      body: { resource_id: id, client_id: "ada", quantity: 2, metadata: { seat: "A1" } },
      params: { header: { "Idempotency-Key": "client-test-1" } },
    });
    expect(booked.response.status).toBe(201);
    expect(booked.data).toMatchObject({ status: "CONFIRMED", quantity: 2, metadata: { seat: "A1" } });

    const held = await api.POST("/reservations", { body: { resource_id: id, client_id: "bob", hold: true } });
    expect(held.data?.status).toBe("HELD");
    const holdId = held.data?.id ?? "";
    const confirmed = await api.POST("/reservations/{id}/confirm", { params: { path: { id: holdId } } });
    expect(confirmed.data?.status).toBe("CONFIRMED");

    const full = await api.POST("/reservations", { body: { resource_id: id, client_id: "eve" } });
    expect(full.response.status).toBe(409);
    expect(full.error?.error.code).toBe("RESOURCE_FULL");

    const cancelled = await api.POST("/reservations/{id}/cancel", { params: { path: { id: holdId } } });
    expect(cancelled.data).toMatchObject({ status: "CANCELLED", id: holdId });
    const read = await api.GET("/reservations/{id}", { params: { path: { id: holdId } } });
    expect(read.data?.cancelled_at).not.toBeNull();

    const availability = await anyone.GET("/availability", { params: { query: { resource_id: id } } });
    expect(availability.response.status).toBe(200);
    expect(availability.data).toMatchObject({ resource_id: id });

    const refused = await api.GET("/resources/{id}", { params: { path: { id } } });
    expect(refused.response.status).toBe(403);
    const resource = await admin.GET("/resources/{id}", { params: { path: { id } } });
    expect(resource.data).toMatchObject({ confirmed: 2, held: 0, remaining: 1 });

    expect(seen).toEqual([]);
  });
});
