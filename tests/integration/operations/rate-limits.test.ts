import { describe, expect, it } from "vitest";
import { call, createResource } from "../../helpers";
import { issueKey, json } from "./support";

/** Rate limits: writes per key, public reads per client IP. */

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
