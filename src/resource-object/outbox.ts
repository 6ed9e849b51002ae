/**
 * The outbox drain: copies timeline entries that are not in D1 yet, and the
 * reservations and resource they touched, as idempotent upserts in one
 * `db.batch`. Runs from the Durable Object's alarm, never on the commit path.
 *
 * Idempotent by construction, so a retried alarm changes nothing twice:
 * decisions are keyed by (resource_id, seq) and inserted or ignored;
 * reservations and resources are replaced only by a later `updated_seq` /
 * `version`.
 */
import type { ResourceState } from "../domain/resource";
import { bulkUpsert, fromExcluded } from "../storage/bulk-upsert";
import { decisionEvents, reservations, resources } from "../storage/d1-schema";
import type { ResourceStore, TimelineEntry } from "./store";

/** How many timeline entries go to D1 in one batch. */
export const DRAIN_BATCH = 200;

const KEEP_FIRST = "ON CONFLICT DO NOTHING";
// Only what a reservation's life changes; who, what and when it was made never do.
const LATER_RESERVATION_WINS = `ON CONFLICT (id) DO UPDATE SET ${fromExcluded(reservations, {
  only: ["status", "expiresAt", "cancelledAt", "expiredAt", "checkedInAt", "updatedSeq"],
})} WHERE excluded.updated_seq > reservations.updated_seq`;
// A newer version, or the same one with another waiting-list length (joins do not bump the version).
const NEWER_RESOURCE_WINS = `ON CONFLICT (id) DO UPDATE SET ${fromExcluded(resources, { except: ["id"] })}
  WHERE excluded.version > resources.version OR excluded.waiting_list_length != resources.waiting_list_length`;

/**
 * Writes `entries` (oldest first) and what they touched to D1, stamped with
 * `now` as their `drained_at` (a re-sent entry keeps its first stamp). Throws
 * if D1 fails; then nothing is marked.
 */
export async function drainToHistory(
  db: D1Database,
  store: ResourceStore,
  state: ResourceState,
  waitingListLength: number,
  entries: TimelineEntry[],
  now: number,
): Promise<void> {
  const events = entries.map((e) => ({
    resourceId: state.id,
    seq: e.seq,
    serverTimestamp: e.serverTimestamp,
    type: e.type,
    requestId: e.requestId,
    clientId: e.clientId,
    quantity: e.quantity,
    outcome: e.outcome,
    code: e.code,
    reason: e.reason,
    detail: JSON.stringify(e.detail),
    versionBefore: e.versionBefore,
    versionAfter: e.versionAfter,
    rulesVersion: e.rulesVersion,
    reservationId: typeof e.detail.reservation_id === "string" ? e.detail.reservation_id : null,
    reservationStatus: typeof e.detail.status === "string" ? e.detail.status : null,
    latencyMs: e.latencyMs,
    drainedAt: now,
  }));
  const touched = [
    ...new Set(entries.flatMap((e) => (typeof e.detail.reservation_id === "string" ? [e.detail.reservation_id] : []))),
  ];
  const latest = store
    .reservationsForHistory(touched, state.id)
    .map((r) => ({ ...r, metadata: JSON.stringify(r.metadata) }));
  const registry = { ...state, waitingListLength, metadata: JSON.stringify(state.metadata) };
  await db.batch([
    ...bulkUpsert(db, resources, [registry], NEWER_RESOURCE_WINS),
    ...bulkUpsert(db, decisionEvents, events, KEEP_FIRST),
    ...bulkUpsert(db, reservations, latest, LATER_RESERVATION_WINS),
  ]);
}
