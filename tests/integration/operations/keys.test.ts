import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "../../helpers";
import { issueKey, json } from "./support";

/** Who may call what: every route for each kind of key, and how keys are stored and listed. */

describe("API keys and roles", () => {
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
