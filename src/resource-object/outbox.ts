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
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ResourceState } from "../domain/resource";
import { decisionEvents, reservations, resources } from "../storage/d1-schema";
import type { ResourceStore, TimelineEntry } from "./store";

/** How many timeline entries go to D1 in one batch. */
export const DRAIN_BATCH = 100;

/** Writes `entries` (oldest first) and what they touched to D1. Throws if D1 fails; then nothing is marked. */
export async function drainToHistory(
  db: D1Database,
  store: ResourceStore,
  state: ResourceState,
  waitingListLength: number,
  entries: TimelineEntry[],
): Promise<void> {
  const d1 = drizzle(db);
  const events = entries.map((e) =>
    d1
      .insert(decisionEvents)
      .values({
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
      })
      .onConflictDoNothing(),
  );
  const touched = [
    ...new Set(entries.flatMap((e) => (typeof e.detail.reservation_id === "string" ? [e.detail.reservation_id] : []))),
  ];
  const reservationUpserts = store.reservationsForHistory(touched, state.id).map((r) =>
    d1
      .insert(reservations)
      .values({ ...r, metadata: JSON.stringify(r.metadata) })
      .onConflictDoUpdate({
        target: reservations.id,
        set: {
          status: sql`excluded.status`,
          expiresAt: sql`excluded.expires_at`,
          cancelledAt: sql`excluded.cancelled_at`,
          expiredAt: sql`excluded.expired_at`,
          checkedInAt: sql`excluded.checked_in_at`,
          updatedSeq: sql`excluded.updated_seq`,
        },
        setWhere: sql`excluded.updated_seq > ${reservations.updatedSeq}`,
      }),
  );
  const { id: _, ...registry } = { ...state, waitingListLength, metadata: JSON.stringify(state.metadata) };
  const resourceUpsert = d1
    .insert(resources)
    .values({ id: state.id, ...registry })
    .onConflictDoUpdate({
      target: resources.id,
      set: registry,
      // A newer version, or the same one with another waiting-list length (joins do not bump the version).
      setWhere: sql`${state.version} > ${resources.version} OR ${waitingListLength} != ${resources.waitingListLength}`,
    });
  await d1.batch([resourceUpsert, ...events, ...reservationUpserts]);
}
