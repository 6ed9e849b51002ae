/**
 * Budget checks: every invocation counts what it asks of the platform
 * (src/lib/budget.ts) and the busiest invocation of each entry point is kept
 * in `peaks`. These helpers seed D1 at the sizes that broke the engine
 * before (the rows are real rows in the real local D1, written by SQL in one
 * statement each) and read the peaks.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { BUDGET, type Peak, peaks } from "../../src/lib/budget";

/** The peak of every entry point seen so far, each within the budget; returns them. */
export function expectAllWithinBudget(): Record<string, Peak> {
  const all = Object.fromEntries(peaks);
  for (const [entryPoint, peak] of Object.entries(all)) {
    expect({
      entryPoint,
      ...peak,
      within: peak.d1_queries <= BUDGET.d1Queries && peak.subrequests <= BUDGET.subrequests,
    }).toMatchObject({ entryPoint, within: true });
  }
  return all;
}

/** `n` resources in the registry, `prefix-00001` …, as the history writer would have left them. */
export async function seedRegistry(prefix: string, n: number, now: number): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO resources (id, type, state, capacity, confirmed, held, waiting_list_enabled, hold_ttl_seconds,
       metadata, version, rules_version, created_at, updated_at, last_seq)
     SELECT printf('%s-%05d', ?1, i), 'session', 'OPEN', 10, 0, 0, 0, 600, '{}', 1, 1, ?3, ?3, 21 FROM n`,
  )
    .bind(prefix, n, now)
    .run();
}

/**
 * For resources `prefix-00001` … `prefix-<resources>`: decisions 1..`seqs` with seq `missing` left out,
 * as a history outage leaves them, decided just before `at`.
 */
export async function seedHistoryWithGaps(
  prefix: string,
  resources: number,
  h: { seqs: number; missing: number; at: number },
): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ?2),
       s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < ?3)
     INSERT INTO decision_events (resource_id, seq, server_timestamp, type, request_id, outcome, reason, detail,
       version_before, version_after, rules_version, drained_at)
     SELECT printf('%s-%05d', ?1, i), seq, ?5 - 600000 + seq, 'note', 'seeded', 'ACCEPTED', 'seeded', '{}', 1, 1, 1, ?5
     FROM r, s WHERE seq <> ?4 ORDER BY 1, 2`,
  )
    .bind(prefix, resources, h.seqs, h.missing, h.at)
    .run();
}

/** `n` reservations in the history (ten to a millisecond, so ties in time are ordered by id). */
export async function seedReservations(prefix: string, n: number, now: number): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO reservations (id, resource_id, client_id, quantity, status, server_seq, server_timestamp, rules_version,
       metadata, updated_seq)
     SELECT printf('rsv_%s_%06d', ?1, i), printf('%s-%05d', ?1, 1 + i % 5000), 'c', 1, 'CONFIRMED', i,
       ?3 - 3600000 + i / 10, 1, '{}', i FROM n`,
  )
    .bind(prefix, n, now)
    .run();
}

export async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The plan SQLite chooses for `sql`, one line per step. */
export async function planOf(sql: string, ...params: unknown[]): Promise<string> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return results.map((r) => r.detail).join("\n");
}

/**
 * Prints the peaks of this file's invocations as one line that `npm run bench:budgets` collects
 * (with --silent=false); call it from `afterAll`.
 */
export function reportPeaks(): void {
  console.log(`BUDGET_PEAKS ${JSON.stringify(Object.fromEntries(peaks))}`);
}
