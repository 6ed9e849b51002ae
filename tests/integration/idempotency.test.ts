import { describe, expect, it } from "vitest";
import { call, createResource, reserve, uniqueId } from "../helpers";

describe("Idempotency-Key", () => {
  it("turns 50 concurrent retries into one reservation with identical replies", async () => {
    const resource = await createResource({ capacity: 100 });
    const key = uniqueId("key");
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => reserve(resource.id as string, { quantity: 2 }, { "Idempotency-Key": key })),
    );
    const bodies = await Promise.all(responses.map((r) => r.text()));

    expect(responses.every((r) => r.status === 201)).toBe(true);
    expect(new Set(bodies).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("Idempotent-Replayed") === "true")).toHaveLength(49);
    expect(new Set(responses.map((r) => r.headers.get("Location"))).size).toBe(1);

    const state = await (await call("GET", `/resources/${resource.id}`)).json<Record<string, number>>();
    expect(state.confirmed).toBe(2);
    const timeline = await (await call("GET", `/admin/resources/${resource.id}/timeline`)).json<{ items: unknown[] }>();
    expect(timeline.items).toHaveLength(2); // the create and one reservation
  });

  it("answers 422 to the same key with another body, and changes nothing", async () => {
    const resource = await createResource({ capacity: 5 });
    const key = uniqueId("key");
    expect((await reserve(resource.id as string, { quantity: 1 }, { "Idempotency-Key": key })).status).toBe(201);
    const reused = await reserve(resource.id as string, { quantity: 2 }, { "Idempotency-Key": key });
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: { code: "IDEMPOTENCY_KEY_REUSED" } });
    const state = await (await call("GET", `/resources/${resource.id}`)).json<Record<string, number>>();
    expect(state.confirmed).toBe(1);
  });

  it("replays a refusal too: a retry of a rejected request stays rejected even after room appears", async () => {
    const resource = await createResource({ capacity: 1 });
    await reserve(resource.id as string);
    const key = uniqueId("key");
    const first = await reserve(resource.id as string, {}, { "Idempotency-Key": key });
    const retry = await reserve(resource.id as string, {}, { "Idempotency-Key": key });
    expect(first.status).toBe(409);
    expect(retry.status).toBe(409);
    expect(await retry.text()).toBe(await first.text());
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
  });

  it("treats bodies that differ only in key order or defaults as the same request", async () => {
    const resource = await createResource({ capacity: 5 });
    const key = uniqueId("key");
    const first = await call("POST", "/reservations", {
      raw: `{"resource_id":"${resource.id}","client_id":"a"}`,
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
    });
    const retry = await call("POST", "/reservations", {
      raw: `{ "quantity": 1, "client_id": "a", "resource_id": "${resource.id}" }`,
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
    });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(await retry.text()).toBe(await first.text());
  });

  it("creates one resource from concurrent retries of a create without an id", async () => {
    const key = uniqueId("key");
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        call("POST", "/resources", { body: { type: "session", capacity: 3 }, headers: { "Idempotency-Key": key } }),
      ),
    );
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(responses.every((r) => r.status === 201)).toBe(true);
    expect(new Set(bodies).size).toBe(1);
    const id = JSON.parse(bodies[0] as string).id as string;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const other = await call("POST", "/resources", {
      body: { type: "session", capacity: 4 },
      headers: { "Idempotency-Key": key },
    });
    expect(other.status).toBe(422);
  });

  it("rejects a second create of a taken id with 409 RESOURCE_EXISTS", async () => {
    const resource = await createResource({ capacity: 1 });
    const again = await call("POST", "/resources", { body: { id: resource.id, type: "session", capacity: 1 } });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "RESOURCE_EXISTS" } });
  });
});

describe("Idempotency-Key on an unknown resource", () => {
  it("answers 404 NOT_FOUND, as without a key, and stores nothing", async () => {
    const unknown = uniqueId("nobody");
    const encoded = btoa(unknown).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
    const wellFormed = `rsv_${encoded}.${"A".repeat(22)}`;
    const key = { "Idempotency-Key": uniqueId("key") };
    const requests = [
      () => reserve(unknown, {}, key),
      () => call("POST", "/waiting-list/join", { body: { resource_id: unknown, client_id: "w" }, headers: key }),
      () => call("POST", `/reservations/${wellFormed}/confirm`, { headers: key }),
      () => call("POST", `/reservations/${wellFormed}/cancel`, { headers: key }),
    ];
    for (const send of requests) {
      const res = await send();
      expect(res.status).toBe(404);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    }
    // Creating it afterwards still works, and the key was never spent on the 404.
    expect((await call("POST", "/resources", { body: { id: unknown, type: "s", capacity: 1 } })).status).toBe(201);
    expect((await reserve(unknown, {}, key)).status).toBe(201);
  });
});
