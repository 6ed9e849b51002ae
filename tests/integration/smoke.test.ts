import { describe, expect, it } from "vitest";
import { call, createResource, reserve } from "../helpers";

describe("smoke", () => {
  it("creates a resource and reserves", async () => {
    const r = await createResource({ capacity: 2 });
    const res = await reserve(r.id as string, { quantity: 2 });
    console.log(res.status, await res.clone().text());
    expect(res.status).toBe(201);
    const again = await reserve(r.id as string);
    console.log(again.status, await again.text());
    const health = await call("GET", "/health", { auth: null });
    expect(health.status).toBe(200);
  });
});
