import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, settle, uniqueId } from "../helpers";

/** API.md: every admin action is in GET /admin/audit with key id, route, request id, before/after, never a secret. */

const json = (res: Response) => res.json<Record<string, any>>();
const HEADER =
  "id,type,capacity,waiting_list_enabled,booking_opens_at,booking_closes_at,max_quantity_per_reservation,hold_ttl_seconds";

/** Every entry, following next_cursor a few at a time. */
async function wholeLog(): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let cursor: string | null = null;
  do {
    const page = await json(await call("GET", `/admin/audit?limit=3${cursor ? `&cursor=${cursor}` : ""}`));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

describe("GET /admin/audit", () => {
  it("records keys issued and revoked, maintenance switched, imports and resource changes, newest first", async () => {
    const as = (requestId: string) => ({ "X-Request-Id": requestId });
    const issued = await json(
      await call("POST", "/admin/api-keys", { body: { name: "ops", role: "admin" }, headers: as("aud-issue") }),
    );
    await call("PUT", "/admin/maintenance", { body: { enabled: true, message: "m" }, headers: as("aud-m-on") });
    await call("PUT", "/admin/maintenance", { body: { enabled: false }, headers: as("aud-m-off") });
    const prefix = uniqueId("aud");
    const csv = `${HEADER}\n${prefix}-a,session,2,false,,,,600\n${prefix}-b,session,3,false,,,,600\n${prefix}-c,session,-1,false,,,,600\n`;
    const importHeaders = { "Content-Type": "text/csv" };
    await call("POST", "/admin/resources/import?dry_run=true", {
      raw: csv,
      headers: { ...importHeaders, ...as("aud-dry") },
    });
    const imported = await call("POST", "/admin/resources/import", {
      raw: csv,
      headers: { ...importHeaders, ...as("aud-import") },
    });
    expect(await json(imported)).toMatchObject({ created: 2, unchanged: 0 });
    // A resource changed with the issued admin key: its id is the key id in the log.
    const created = await call("POST", "/resources", {
      body: { id: `${prefix}-d`, type: "session", capacity: 4 },
      auth: issued.key,
      headers: as("aud-create"),
    });
    expect(created.status).toBe(201);
    await call("PATCH", `/resources/${prefix}-d`, {
      body: { capacity: 6 },
      auth: issued.key,
      headers: as("aud-patch"),
    });
    await call("DELETE", `/admin/api-keys/${issued.id}`, { headers: as("aud-revoke") });
    for (const id of ["a", "b", "d"]) await settle(`${prefix}-${id}`);

    const log = await wholeLog();
    const ids = log.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // the cursor never repeats an entry
    expect([...ids].sort((x, y) => y - x)).toEqual(ids); // newest first
    const byRequest = (id: string) => log.filter((e) => e.request_id === id);

    expect(byRequest("aud-issue")).toEqual([
      expect.objectContaining({
        action: "api_key.issue",
        route: "POST /admin/api-keys",
        key_id: "admin",
        outcome: "ACCEPTED",
        before: null,
        after: expect.objectContaining({ id: issued.id, name: "ops", role: "admin", revoked_at: null }),
      }),
    ]);
    const [revoke] = byRequest("aud-revoke");
    expect(revoke).toMatchObject({
      action: "api_key.revoke",
      route: "DELETE /admin/api-keys/{id}",
      key_id: "admin",
      before: { id: issued.id, revoked_at: null },
      after: { id: issued.id, revoked_at: expect.any(String) },
    });
    expect(byRequest("aud-m-on")).toEqual([
      expect.objectContaining({ action: "maintenance.update", route: "PUT /admin/maintenance", key_id: "admin" }),
    ]);
    expect(byRequest("aud-m-off")[0]).toMatchObject({
      before: { enabled: true, message: "m" },
      after: { enabled: false, message: null },
    });
    // One entry with the import's counts (a dry run changes nothing and is not an action), and its creates.
    expect(byRequest("aud-dry")).toEqual([]);
    const importEntries = byRequest("aud-import");
    expect(importEntries.find((e) => e.action === "resource.import")).toMatchObject({
      route: "POST /admin/resources/import",
      key_id: "admin",
      after: { created: 2, unchanged: 0, failed: 1 },
    });
    expect(
      importEntries
        .filter((e) => e.action === "resource.create")
        .map((e) => e.resource_id)
        .sort(),
    ).toEqual([`${prefix}-a`, `${prefix}-b`]);
    expect(importEntries.every((e) => e.route === "POST /admin/resources/import")).toBe(true);
    expect(byRequest("aud-create")[0]).toMatchObject({
      action: "resource.create",
      route: "POST /resources",
      key_id: issued.id,
      resource_id: `${prefix}-d`,
      before: null,
      after: { capacity: 4 },
    });
    expect(byRequest("aud-patch")[0]).toMatchObject({
      action: "resource.update",
      route: "PATCH /resources/{id}",
      key_id: issued.id,
      before: { capacity: 4 },
      after: { capacity: 6 },
    });

    // Never a secret: not the key, not its hash.
    const row = await env.DB.prepare("SELECT secret_hash FROM api_keys WHERE id = ?")
      .bind(issued.id)
      .first<{ secret_hash: string }>();
    const text = JSON.stringify(log);
    expect(text).not.toContain(issued.key);
    expect(text).not.toContain((issued.key as string).slice(-43));
    expect(text).not.toContain(row?.secret_hash);
  });

  it("refuses a cursor it did not hand out", async () => {
    const res = await call("GET", "/admin/audit?cursor=abc");
    expect(res.status).toBe(400);
  });
});
