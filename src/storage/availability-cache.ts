/**
 * Availability snapshots in KV: `{remaining, state, version, as_of}` per
 * resource, advisory only (only the Durable Object decides). Written by the
 * object's alarm after changes (at most once per second per key, KV's limit)
 * and by the Worker on a miss; unknown ids are cached negatively.
 */
import { type ResourceState, remaining } from "../domain/resource";
import { iso } from "../http/render";

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

export function putAvailability(kv: KVNamespace, value: Availability, ttlSeconds: number): Promise<void> {
  return kv.put(availabilityKey(value.resource_id), JSON.stringify(value), { expirationTtl: ttlSeconds });
}

export interface Lookup {
  resourceId: string;
  value: Availability | null;
  cache: "HIT" | "MISS";
}

/**
 * Availability for `ids` from KV (one bulk read); each miss asks the
 * resource's object through `fresh` and fills KV, negatively for unknown ids.
 */
export async function readAvailability(
  kv: KVNamespace,
  ids: string[],
  ttlSeconds: number,
  fresh: (id: string) => Promise<Availability | null>,
): Promise<Lookup[]> {
  const cached = await kv.get(ids.map(availabilityKey), "text");
  return Promise.all(
    ids.map(async (resourceId): Promise<Lookup> => {
      const text = cached.get(availabilityKey(resourceId));
      if (text) {
        const value = JSON.parse(text) as CachedAvailability;
        return { resourceId, value: "missing" in value ? null : value, cache: "HIT" };
      }
      const value = await fresh(resourceId);
      if (value) await putAvailability(kv, value, ttlSeconds);
      else {
        await kv.put(availabilityKey(resourceId), JSON.stringify({ missing: true }), {
          expirationTtl: NEGATIVE_TTL_SECONDS,
        });
      }
      return { resourceId, value, cache: "MISS" };
    }),
  );
}
