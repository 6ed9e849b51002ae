import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { exportHistory } from "../../src/cron/export";
import { runStep } from "../../src/jobs/steps";
import { Meter, meterBinding, metered } from "../../src/lib/budget";
import { gapsOf } from "../../src/storage/reconciliation";
import { count, seedHistoryWithGaps } from "../budgets/support";
import { call } from "../helpers";

const DAY = 86_400_000;

async function exportEverything(): Promise<void> {
  for (;;) {
    const meter = new Meter("test export step");
    const db = meterBinding(env.DB, meter);
    const step = await exportHistory({ db, bucket: meterBinding(env.EXPORTS, meter), now: Date.now, meter });
    if (step.caughtUp) return;
  }
}

describe("history retention (HISTORY_RETENTION_DAYS)", () => {
  it("removes exported decisions older than the window in bounded steps, and nothing else", async () => {
    const now = Date.now();
    // 3 resources × 40 decisions made 40 days ago (exported), then decisions of today.
    await seedHistoryWithGaps("old", 3, { seqs: 40, missing: 0, at: now - 40 * DAY });
    await exportEverything();
    // Old too, but not exported yet: R2 does not have them, so D1 keeps them.
    await seedHistoryWithGaps("late", 1, { seqs: 5, missing: 0, at: now - 40 * DAY });
    const shapeBefore = await env.DB.prepare(
      "SELECT * FROM history_shape WHERE resource_id LIKE 'old-%' ORDER BY 1",
    ).all();

    let steps = 0;
    for (let more = true; more; steps++) {
      const meter = new Meter("test retention step");
      const withRetention = metered({ ...env, HISTORY_RETENTION_DAYS: "30" } as Env, meter);
      more = await runStep(withRetention, { kind: "retention" }, meter);
      expect(meter.d1Queries).toBeLessThanOrEqual(50);
    }
    expect(steps).toBeGreaterThanOrEqual(1);
    expect(await count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id LIKE 'old-%'")).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = 'late-00001'")).toBe(5);
    // What arrived is still counted: no resource looks gappy, and no gap is invented where rows were removed.
    const shapeAfter = await env.DB.prepare(
      "SELECT * FROM history_shape WHERE resource_id LIKE 'old-%' ORDER BY 1",
    ).all();
    expect(shapeAfter.results).toEqual(shapeBefore.results);
    expect(await gapsOf(env.DB, { resourceId: "old-00001", rows: 40, lastSeq: 40 })).toEqual([]);

    // Without the setting nothing is removed.
    const meter = new Meter("test retention step");
    expect(await runStep(metered(env, meter), { kind: "retention" }, meter)).toBe(false);
    expect(await count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = 'late-00001'")).toBe(5);

    const metrics = await (await call("GET", "/metrics")).text();
    const oldest = Number(/^history_oldest_retained_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(Math.round(oldest * 1000)).toBe(now - 40 * DAY - 600_000 + 1); // the unexported late decision, seq 1
  });

  it("tells a real gap from removed history: what is missing above the oldest retained seq", async () => {
    // Seqs 1..20 arrived, 1..10 were removed by retention, 14 never arrived.
    await seedHistoryWithGaps("hole", 1, { seqs: 20, missing: 14, at: Date.now() });
    await env.DB.prepare("DELETE FROM decision_events WHERE resource_id = 'hole-00001' AND seq <= 10").run();
    const shape = { resourceId: "hole-00001", rows: 19, lastSeq: 20 };
    expect(await gapsOf(env.DB, shape)).toEqual([{ from: 14, to: 14 }]);
    // And 11..12 lost as well, just above what was removed: a gap at the front of what remains.
    await env.DB.prepare("DELETE FROM decision_events WHERE resource_id = 'hole-00001' AND seq IN (11, 12)").run();
    expect(await gapsOf(env.DB, { ...shape, rows: 17 })).toEqual([
      { from: 11, to: 12 },
      { from: 14, to: 14 },
    ]);
  });
});
