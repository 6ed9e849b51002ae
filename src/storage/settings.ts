/**
 * Operator switches in D1 (maintenance mode), cached per isolate for
 * SETTINGS_CACHE_MS so requests do not query D1 each time: a change takes
 * effect everywhere within that bound.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { settings } from "./d1-schema";

export const SETTINGS_CACHE_MS = 5_000;

export interface Maintenance {
  enabled: boolean;
  message: string | null;
  updatedAt: number | null;
}

let cached: { value: Maintenance; fetchedAt: number } | null = null;

export async function readMaintenance(db: D1Database, now: number): Promise<Maintenance> {
  if (cached && now - cached.fetchedAt < SETTINGS_CACHE_MS) return cached.value;
  const [row] = await drizzle(db).select().from(settings).where(eq(settings.name, "maintenance")).limit(1);
  const value: Maintenance = row
    ? { ...(JSON.parse(row.value) as { enabled: boolean; message: string | null }), updatedAt: row.updatedAt }
    : { enabled: false, message: null, updatedAt: null };
  cached = { value, fetchedAt: now };
  return value;
}

export async function writeMaintenance(db: D1Database, enabled: boolean, message: string | null, now: number) {
  const value = JSON.stringify({ enabled, message });
  await drizzle(db)
    .insert(settings)
    .values({ name: "maintenance", value, updatedAt: now })
    .onConflictDoUpdate({ target: settings.name, set: { value, updatedAt: now } });
  cached = { value: { enabled, message, updatedAt: now }, fetchedAt: now };
  return cached.value;
}
