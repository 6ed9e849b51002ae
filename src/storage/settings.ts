/**
 * Operator switches in D1 (maintenance mode), cached per isolate for
 * SETTINGS_CACHE_MS so requests do not query D1 each time: a change takes
 * effect everywhere within that bound. While D1 is down, the last setting
 * this isolate read stays in force (API.md), and D1 is asked again once per
 * SETTINGS_CACHE_MS.
 */
import { eq, sql } from "drizzle-orm";
import { type AuditBy, auditRow } from "./audit";
import { D1Unavailable, drizzle, isD1Unavailable } from "./d1";
import { adminAudit, settings } from "./d1-schema";

export const SETTINGS_CACHE_MS = 5_000;

export interface Maintenance {
  enabled: boolean;
  message: string | null;
  updatedAt: number | null;
}

/** The last setting read from D1 (null: none yet) and when D1 was last asked. */
let cached: { value: Maintenance | null; fetchedAt: number } | null = null;

/** The setting: from D1, or the last one known while D1 is down; `D1Unavailable` when none is known. */
export async function readMaintenance(db: D1Database, now: number): Promise<Maintenance> {
  if (!cached || now - cached.fetchedAt >= SETTINGS_CACHE_MS) {
    let value: Maintenance | null;
    try {
      const [row] = await drizzle(db).select().from(settings).where(eq(settings.name, "maintenance")).limit(1);
      value = row
        ? { ...(JSON.parse(row.value) as { enabled: boolean; message: string | null }), updatedAt: row.updatedAt }
        : { enabled: false, message: null, updatedAt: null };
    } catch (err) {
      if (!isD1Unavailable(err)) throw err;
      value = cached?.value ?? null;
    }
    cached = { value, fetchedAt: now };
  }
  if (!cached.value) throw new D1Unavailable("maintenance setting never read");
  return cached.value;
}

/** Switches maintenance and records it in the audit log, in one batch (`before` read inside it). */
export async function writeMaintenance(
  db: D1Database,
  enabled: boolean,
  message: string | null,
  now: number,
  by: AuditBy,
) {
  const value = JSON.stringify({ enabled, message });
  const d1 = drizzle(db);
  const reason = `maintenance switched ${enabled ? "on" : "off"}`;
  const audit = auditRow(by, { action: "maintenance.update", reason, before: null, after: { enabled, message } }, now);
  const current = sql`(SELECT ${settings.value} FROM ${settings} WHERE ${settings.name} = 'maintenance')`;
  await d1.batch([
    d1.insert(adminAudit).values({ ...audit, before: current }),
    d1
      .insert(settings)
      .values({ name: "maintenance", value, updatedAt: now })
      .onConflictDoUpdate({ target: settings.name, set: { value, updatedAt: now } }),
  ]);
  const written: Maintenance = { enabled, message, updatedAt: now };
  cached = { value: written, fetchedAt: now };
  return written;
}
