import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createResource, reserve } from "../../helpers";
import { issueKey, json } from "./support";

/** Who may call what: every route for each kind of key, and how keys are stored and listed. */

describe("API keys and roles", () => {
  it("answers every route with the documented status for each kind of key", async () => {
    const client = await issueKey("client");
    const revoked = await issueKey("client");
    expect((await call("DELETE", `/admin/api-keys/${revoked.id}`)).status).toBe(200);
    const resource = await createResource({ capacity: 1000, waiting_list_enabled: true });
    const id = resource.id as string;
    const r = await json(await reserve(id));

    const keys = {
      none: null,
      bad: "rk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      revoked: revoked.key,
      client: client.key,
      admin: ADMIN_TOKEN,
    };
    // [method, path, body, status for a client key, status for the admin key]
    const routes: [string, string, unknown, number, number][] = [
      ["POST", "/reservations", { resource_id: id, client_id: "m" }, 201, 201],
      ["GET", `/reservations/${r.id}`, undefined, 200, 200],
      ["POST", "/waiting-list/join", { resource_id: id, client_id: "m" }, 201, 200],
      ["GET", `/resources/${id}`, undefined, 403, 200],
      ["GET", "/resources", undefined, 403, 200],
      ["POST", "/resources", { type: "t", capacity: 1 }, 403, 201],
      ["PATCH", `/resources/${id}`, { metadata: { a: 1 } }, 403, 200],
      ["POST", `/resources/${id}/close`, undefined, 403, 200],
      ["POST", `/resources/${id}/reopen`, undefined, 403, 200],
      ["GET", `/admin/resources/${id}/timeline`, undefined, 403, 200],
      ["GET", "/admin/audit", undefined, 403, 200],
      ["GET", "/admin/reservations/export", undefined, 403, 200],
      ["GET", "/admin/api-keys", undefined, 403, 200],
      ["GET", "/admin/dead-letters", undefined, 403, 200],
      ["GET", "/admin/maintenance", undefined, 403, 200],
    ];
    for (const [method, path, body, forClient, forAdmin] of routes) {
      for (const [kind, key] of Object.entries(keys)) {
        const res = await call(method, path, { body, auth: key });
        const expected = kind === "client" ? forClient : kind === "admin" ? forAdmin : 401;
        expect({ method, path, kind, status: res.status }).toEqual({ method, path, kind, status: expected });
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
