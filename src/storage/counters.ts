import { countD1 } from "../lib/usage";

/**
 * Running totals in `metric_counters` that no decision row carries (the
 * trigger of migrations/0004 keeps the others): webhook deliveries, history
 * gaps repaired. One statement for all labels.
 */
export async function addToCounters(db: D1Database, name: string, byLabel: Record<string, number>): Promise<void> {
  const rows = Object.entries(byLabel).filter(([, n]) => n > 0);
  if (rows.length === 0) return;
  const result = await db
    .prepare(
      `INSERT INTO metric_counters (name, label, value) VALUES ${rows.map(() => "(?, ?, ?)").join(", ")}
       ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value`,
    )
    .bind(...rows.flatMap(([label, n]) => [name, label, n]))
    .run();
  countD1(result);
}
