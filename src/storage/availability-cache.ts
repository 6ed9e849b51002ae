/**
 * Availability snapshots in KV: `{remaining, state, version, as_of}` per
 * resource, advisory only (only the Durable Object decides). Written only by
 * the object: on a miss, and after changes while somebody reads the resource
 * (at most once per second per key, KV's limit); unknown ids are cached
 * negatively.
 */
import { type ResourceState, remaining } from "../domain/resource";
import { withDeadline } from "../lib/deadline";
import { logFailure } from "../lib/log";
import { countUsage } from "../lib/usage";
import { iso } from "../wire/render";

export interface Availability {
  resource_id: string;
  state: "OPEN" | "CLOSED";
  capacity: number;
  remaining: number;
  waiting_list_enabled: boolean;
  version: number;
  as_of: string;
}

/** What KV holds for an id: a snapshot, or the knowledge that no such resource exists. */
export type CachedAvailability = Availability | { missing: true };

/** KV refuses a TTL under 60 s; unknown ids are remembered for that minimum only. */
export const NEGATIVE_TTL_SECONDS = 60;

export function availabilityKey(resourceId: string): string {
  return `availability:${resourceId}`;
}

export function availabilityOf(s: ResourceState, asOf: number): Availability {
  return {
    resource_id: s.id,
    state: s.state,
    capacity: s.capacity,
    remaining: remaining(s),
    waiting_list_enabled: s.waitingListEnabled,
    version: s.version,
    as_of: iso(asOf) as string,
  };
}

/** Remembers in KV that no resource has this id, for NEGATIVE_TTL_SECONDS. */
export function putMissing(kv: KVNamespace, resourceId: string): Promise<void> {
  countUsage("kvWrites");
  const missing: CachedAvailability = { missing: true };
  return kv.put(availabilityKey(resourceId), JSON.stringify(missing), { expirationTtl: NEGATIVE_TTL_SECONDS });
}

export function putAvailability(kv: KVNamespace, value: Availability, ttlSeconds: number): Promise<void> {
  countUsage("kvWrites");
  return kv.put(availabilityKey(value.resource_id), JSON.stringify(value), { expirationTtl: ttlSeconds });
}

/**
 * A per-isolate copy of what KV answered, fresh for `isolateCacheMs`
 * (AVAILABILITY_ISOLATE_CACHE_MS): hot availability is then served without a
 * KV round trip per request. Once stale, one request refreshes an id and the
 * isolate's other requests keep the stale copy meanwhile, never longer than
 * the KV read timeout past its freshness: a burst on a popular id costs one
 * KV read, not one per request in flight. (Requests cannot share a promise in
 * Workers: an I/O belongs to the request that started it.)
 */
interface Remembered {
  value: CachedAvailability;
  at: number;
  /** When a request set out to refresh this copy; null when none is on it. */
  refreshingSince: number | null;
}
const isolateCache = new Map<string, Remembered>();
const ISOLATE_CACHE_MAX = 10_000;

/** Forgets what this isolate and KV remember of an id (a negative entry, once the resource exists). */
export async function forgetAvailability(kv: KVNamespace, resourceId: string): Promise<void> {
  isolateCache.delete(resourceId);
  countUsage("kvWrites");
  await kv.delete(availabilityKey(resourceId));
}

function remember(resourceId: string, value: CachedAvailability, now: number): void {
  if (isolateCache.size >= ISOLATE_CACHE_MAX) isolateCache.clear(); // bounded memory, not an LRU: misses are cheap
  isolateCache.set(resourceId, { value, at: now, refreshingSince: null });
}

/** This isolate's copy of an id if it may be served now; otherwise undefined, and the caller refreshes it. */
function rememberedCopy(resourceId: string, now: number, o: ReadOptions): CachedAvailability | undefined {
  const copy = isolateCache.get(resourceId);
  if (!copy || o.isolateCacheMs === 0) return undefined;
  const age = now - copy.at;
  if (age < o.isolateCacheMs) return copy.value;
  // Stale: served only while another request is refreshing it, and never past the bound (a refresh may fail).
  const refreshing = copy.refreshingSince !== null && now - copy.refreshingSince < o.kvTimeoutMs;
  if (refreshing && age < o.isolateCacheMs + o.kvTimeoutMs) return copy.value;
  copy.refreshingSince = now;
  return undefined;
}

export interface Lookup {
  resourceId: string;
  value: Availability | null;
  cache: "HIT" | "MISS";
}

export interface ReadOptions {
  /** How long this isolate's copy of an answer stays fresh; 0 reads KV every time. */
  isolateCacheMs: number;
  /** A KV read slower than this counts as a miss (see kvRead). */
  kvTimeoutMs: number;
  /** The truth for one id, from its object, which also fills KV; null when no such resource exists. */
  fresh: (id: string) => Promise<Availability | null>;
}

/**
 * Availability for `ids` from KV (one read); each miss asks the resource's
 * object through `fresh`, which fills KV (negatively for unknown ids).
 */
export async function readAvailability(kv: KVNamespace, ids: string[], options: ReadOptions): Promise<Lookup[]> {
  const now = Date.now();
  const local = new Map<string, CachedAvailability>();
  for (const id of ids) {
    const copy = rememberedCopy(id, now, options);
    if (copy) local.set(id, copy);
  }
  const remote = ids.filter((id) => !local.has(id));
  const cached = remote.length > 0 ? await kvRead(kv, remote, options.kvTimeoutMs) : new Map<string, string | null>();
  return Promise.all(
    ids.map(async (resourceId): Promise<Lookup> => {
      const text = cached.get(availabilityKey(resourceId));
      const known = local.get(resourceId) ?? (text ? (JSON.parse(text) as CachedAvailability) : undefined);
      if (known) {
        if (!local.has(resourceId)) remember(resourceId, known, now);
        return { resourceId, value: "missing" in known ? null : known, cache: "HIT" };
      }
      // The object answers and fills KV itself: only the object writes KV, so a late fill never
      // replaces a newer snapshot.
      const value = await options.fresh(resourceId);
      remember(resourceId, value ?? { missing: true }, now);
      return { resourceId, value, cache: "MISS" };
    }),
  );
}

/**
 * KV down or slow counts as a miss: reads fall back to the objects, which
 * always know. One key is read with a single get (the common hot path), many
 * with one bulk get.
 */
async function kvRead(kv: KVNamespace, ids: string[], timeoutMs: number): Promise<Map<string, string | null>> {
  const keys = ids.map(availabilityKey);
  try {
    const read: Promise<Map<string, string | null>> =
      keys.length === 1
        ? kv.get(keys[0] as string, "text").then((text) => new Map([[keys[0] as string, text]]))
        : kv.get(keys, "text");
    return await withDeadline(read, timeoutMs, "availability KV read");
  } catch (err) {
    logFailure("availability KV read failed", err);
    return new Map();
  }
}
