import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { peaks } from "../../src/lib/budget";
import { exportPageQuery } from "../../src/storage/history";
import { call } from "../helpers";
import { count, expectAllWithinBudget, planOf, reportPeaks, seedHistoryWithGaps, seedReservations } from "./support";

const ROWS = 100_000;

/** The rows of every part of an export, following `X-Export-Cursor` until it is absent. */
async function exportAll(query: string) {
  const ids: string[] = [];
  let parts = 0;
  let cursor: string | null = null;
  do {
    const res = await call("GET", `/admin/reservations/export?${query}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(res.status).toBe(200);
    const lines = (await res.text()).split("\n").filter(Boolean);
    expect(lines.length).toBeLessThanOrEqual(20_000);
    ids.push(...lines.map((l) => JSON.parse(l).id as string));
    cursor = res.headers.get("X-Export-Cursor");
    if (cursor) expect(res.headers.get("Link")).toContain(`cursor=${cursor}`);
    parts++;
  } while (cursor);
  return { ids, parts };
}

afterAll(reportPeaks);

describe("history queries at 100,000 rows", () => {
  it("export in parts of 20,000 that seek, each within the budget, with nothing skipped or repeated", async () => {
    const now = Date.now();
    await seedReservations("exp", ROWS, now);
    peaks.clear();
    const { ids, parts } = await exportAll("format=ndjson");
    expect(parts).toBe(5);
    expect(ids).toHaveLength(ROWS);
    expect(new Set(ids).size).toBe(ROWS);
    expect(ids).toEqual([...ids].sort()); // printf'd ids sort as they were decided (ten per millisecond)
    const peak = expectAllWithinBudget()["fetch GET /admin/reservations/export"];
    expect(peak?.d1_queries).toBeGreaterThanOrEqual(20); // a part is twenty pages of 1,000

    // One resource's rows, resumed from a cursor: the same rows as a fresh export of that resource.
    const one = await exportAll("format=ndjson&resource_id=exp-00007");
    expect(one.ids).toHaveLength(20);
    expect((await call("GET", "/admin/reservations/export?cursor=not-a-cursor")).status).toBe(400);
  }, 120_000);

  it("every page is an index seek (row-value keyset), never a scan", async () => {
    const after = { ts: Date.now(), id: "rsv_x" };
    for (const filter of [{}, { resourceId: "exp-00001" }, { from: 0, to: Date.now() }]) {
      const query = exportPageQuery(env.DB, filter, after, null, 1000).toSQL();
      const plan = await planOf(query.sql, ...query.params);
      expect(plan).toMatch(/SEARCH reservations USING INDEX reservations_(resource_)?time_id/);
      expect(plan).not.toMatch(/SCAN reservations/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("the reconciler, dead letters and analytics read by index, whatever the history's size", async () => {
    const now = Date.now();
    await seedHistoryWithGaps("plan", 5000, { seqs: 21, missing: 3, at: now });
    expect(await count("SELECT COUNT(*) AS n FROM decision_events")).toBeGreaterThanOrEqual(100_000);
    const plans = {
      gappy: await planOf(
        "SELECT resource_id FROM history_shape WHERE rows < last_seq AND resource_id > ? ORDER BY resource_id LIMIT 20",
        "",
      ),
      recent: await planOf(
        `SELECT resource_id FROM history_shape WHERE last_at >= ? AND (last_at, resource_id) > (?, ?)
         ORDER BY last_at, resource_id LIMIT 20`,
        0,
        0,
        "",
      ),
      deadLetters: await planOf(
        "SELECT * FROM decision_events WHERE type = 'webhook.dead_letter' AND id < ? ORDER BY id DESC LIMIT 51",
        1e9,
      ),
      daily: await planOf("SELECT * FROM history_daily WHERE day >= ? AND day <= ?", "2026-01-01", "2026-12-31"),
    };
    expect(plans.gappy).toMatch(/USING (COVERING )?INDEX history_shape_gappy/);
    expect(plans.recent).toMatch(/USING (COVERING )?INDEX history_shape_recent/);
    expect(plans.deadLetters).toMatch(/USING INDEX decision_events_dead_letters/);
    expect(plans.daily).toMatch(/SEARCH history_daily USING (COVERING )?INDEX sqlite_autoindex_history_daily_1/);
    for (const p of Object.values(plans)) expect(p).not.toMatch(/SCAN (decision_events|history_shape|history_daily)/);

    peaks.clear();
    expect((await call("GET", "/admin/dead-letters")).status).toBe(200);
    const year = await call("GET", `/admin/analytics?from=${new Date(now - 365 * 86_400_000).toISOString()}`);
    expect(year.status).toBe(200);
    const tooLong = await call("GET", `/admin/analytics?from=${new Date(now - 400 * 86_400_000).toISOString()}`);
    expect(tooLong.status).toBe(400);
    expect((await call("GET", "/metrics")).status).toBe(200);
    const peak = expectAllWithinBudget();
    expect(peak["fetch GET /admin/analytics"]?.d1_queries).toBeLessThanOrEqual(5);
  });
});
