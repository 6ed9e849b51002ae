import { describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, call, createResource } from "../../helpers";
import { issueKey, json } from "./support";

/** What a request leaves behind: one log line without secrets, one request id. */

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

describe("request ids", () => {
  it("keeps one id per request, even for a path that is literally /* (found by the hostile-input property)", async () => {
    const res = await call("GET", "/*", { auth: null });
    expect(res.status).toBe(404);
    expect((await json(res)).error.request_id).toBe(res.headers.get("X-Request-Id"));
  });
});
