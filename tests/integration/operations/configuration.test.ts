import { describe, expect, it, vi } from "vitest";
import { call } from "../../helpers";
import { json } from "./support";

/** Environment settings: applied when valid, failing closed when not. */

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
