/**
 * API keys in D1. A key is `rk_<id>_<secret>`: the id finds the row without a
 * scan, only a SHA-256 of the secret is stored, and the plaintext is shown
 * once. Lookups are cached per isolate for KEY_CACHE_MS, so a request does
 * not query D1 on every call; revocation takes effect within that bound.
 * While D1 is down, a key it confirmed within KEY_FALLBACK_MS keeps working
 * (API.md "While a dependency is down").
 */
import { desc, eq, sql } from "drizzle-orm";
import { randomToken } from "../domain/ids";
import { sha256Hex } from "../lib/digest";
import { Lru } from "../lib/lru";
import { apiKeyJson } from "../wire/render";
import { type AuditAction, type AuditBy, auditRow } from "./audit";
import { drizzle, isD1Unavailable } from "./d1";
import { adminAudit, apiKeys } from "./d1-schema";

export type Role = "admin" | "client";
export const KEY_CACHE_MS = 30_000;
export const KEY_FALLBACK_MS = 15 * 60_000;
/** last_used_at is refreshed at most this often per key (it is informational). */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface KeyRecord {
  id: string;
  name: string;
  role: Role;
  secretHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/**
 * Both caches are bounded (decision 25). Keys D1 confirmed (revoked ones
 * included), kept for the fallback window; ids D1 did not know, kept apart
 * and fewer, so a flood of made-up ids churns that cache only, never the
 * real keys.
 */
const known = new Lru<string, { record: KeyRecord; fetchedAt: number }>(10_000, KEY_FALLBACK_MS);
const unknown = new Lru<string, true>(1_000, KEY_CACHE_MS);

/** How many ids each cache holds now, and at most (for tests and diagnostics). */
export function keyCacheSizes() {
  return { known: known.size, knownMax: known.max, unknown: unknown.size, unknownMax: unknown.max };
}

const KEY_FORMAT = /^rk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export function parseKey(token: string): { id: string; secret: string } | null {
  const m = KEY_FORMAT.exec(token);
  return m ? { id: m[1] as string, secret: m[2] as string } : null;
}

/**
 * The key with this id, or null when there is none. `beforeLookup` runs
 * before D1 is asked about an id it has not confirmed (it may refuse: the
 * per-IP limit); a known key is re-checked freely. While D1 is down, a key it
 * confirmed within KEY_FALLBACK_MS is answered from memory; for any other the
 * `D1Unavailable` goes to the caller (503, never a 401: the key may exist).
 */
export async function findKey(
  db: D1Database,
  id: string,
  now: number,
  beforeLookup: () => Promise<void> = async () => {},
): Promise<KeyRecord | null> {
  const hit = known.get(id, now);
  if (hit && now - hit.fetchedAt < KEY_CACHE_MS) return hit.record;
  if (!hit && unknown.get(id, now)) return null;
  if (!hit) await beforeLookup();
  let row: typeof apiKeys.$inferSelect | undefined;
  try {
    [row] = await drizzle(db).select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  } catch (err) {
    if (hit && isD1Unavailable(err)) return hit.record;
    throw err;
  }
  if (!row) {
    known.delete(id);
    unknown.set(id, true, now);
    return null;
  }
  const record: KeyRecord = { ...row, role: row.role as Role };
  known.set(id, { record, fetchedAt: now }, now);
  return record;
}

/** Records use, at most once a minute per key; callers run it in the background. */
export async function touchKey(db: D1Database, key: KeyRecord, now: number): Promise<void> {
  if (key.lastUsedAt !== null && now - key.lastUsedAt < LAST_USED_RESOLUTION_MS) return;
  key.lastUsedAt = now;
  await drizzle(db).update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.id));
}

/** Issues a key and records it in the audit log (one batch: neither without the other). */
export async function createKey(db: D1Database, name: string, role: Role, now: number, by: AuditBy) {
  const id = randomAlnum(12);
  const secret = randomToken(32); // 256 bits
  const secretHash = await sha256Hex(secret);
  const record: KeyRecord = { id, name, role, secretHash, createdAt: now, lastUsedAt: null, revokedAt: null };
  const d1 = drizzle(db);
  await d1.batch([
    d1.insert(apiKeys).values({ id, name, role, secretHash, createdAt: now }),
    d1.insert(adminAudit).values(auditRow(by, keyAction("api_key.issue", null, record), now)),
  ]);
  unknown.delete(id); // in case this isolate was asked for the id before it existed
  return { record, key: `rk_${id}_${secret}` };
}

export async function listKeys(db: D1Database): Promise<KeyRecord[]> {
  const rows = await drizzle(db).select().from(apiKeys).orderBy(desc(apiKeys.createdAt)).limit(1000);
  return rows.map((r) => ({ ...r, role: r.role as Role }));
}

/** Revokes a key (a second revocation changes nothing) and records it in the audit log, in one batch. */
export async function revokeKey(db: D1Database, id: string, now: number, by: AuditBy): Promise<KeyRecord | null> {
  const d1 = drizzle(db);
  const [row] = await d1.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  if (!row) return null;
  const before: KeyRecord = { ...row, role: row.role as Role };
  const after: KeyRecord = { ...before, revokedAt: row.revokedAt ?? now };
  await d1.batch([
    d1
      .update(apiKeys)
      .set({ revokedAt: sql`COALESCE(${apiKeys.revokedAt}, ${now})` })
      .where(eq(apiKeys.id, id)),
    d1.insert(adminAudit).values(auditRow(by, keyAction("api_key.revoke", before, after), now)),
  ]);
  // This isolate knows at once, and keeps refusing it while D1 is down; others within KEY_CACHE_MS.
  known.set(id, { record: after, fetchedAt: now }, now);
  return after;
}

function keyAction(action: string, before: KeyRecord | null, after: KeyRecord): AuditAction {
  const reason = action === "api_key.issue" ? `issued a ${after.role} key` : `revoked a ${after.role} key`;
  return { action, reason, before: before && apiKeyJson(before), after: apiKeyJson(after) };
}

function randomAlnum(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}
