/**
 * The outbox's messages: timeline entries that have not left the object yet,
 * with the reservations they touched and the resource's registry row, as the
 * history queue carries them (storage/history-writer.ts writes them to D1).
 * Runs off the commit path, from the drain.
 */
import type { ResourceState } from "../domain/resource";
import type { HistoryMessage } from "../storage/history-writer";
import type { ResourceStore, TimelineEntry } from "./store";

/** How many timeline entries one drain reads at a time. */
export const DRAIN_BATCH = 200;
/**
 * A queue message may carry 128 KB and a `sendBatch` 256 KB in all; messages
 * stay under this many bytes (of JSON) so a batch holds at least two.
 */
export const MESSAGE_BYTES = 100_000;

/**
 * `entries` (oldest first) as history messages, split so that none exceeds
 * MESSAGE_BYTES. Each message repeats the registry row: a message delivered
 * alone is complete.
 */
export function historyMessages(
  store: ResourceStore,
  state: ResourceState,
  lastSeq: number,
  waitingListLength: number,
  entries: TimelineEntry[],
): HistoryMessage[] {
  const resource = {
    ...state,
    waitingListLength,
    metadata: JSON.stringify(state.metadata),
    lastSeq,
  };
  const touched = [
    ...new Set(entries.flatMap((e) => (typeof e.detail.reservation_id === "string" ? [e.detail.reservation_id] : []))),
  ];
  const reservations = new Map(
    store
      .reservationsForHistory(touched, state.id)
      .map((r) => [r.id, { ...r, metadata: JSON.stringify(r.metadata) }] as const),
  );
  const messages: HistoryMessage[] = [];
  let current: HistoryMessage = { resource, decisions: [], reservations: [] };
  let bytes = JSON.stringify(resource).length;
  for (const e of entries) {
    const reservationId = typeof e.detail.reservation_id === "string" ? e.detail.reservation_id : null;
    const decision = {
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
      reservationId,
      reservationStatus: typeof e.detail.status === "string" ? e.detail.status : null,
      latencyMs: e.latencyMs,
    };
    const reservation = reservationId ? reservations.get(reservationId) : undefined;
    const size = JSON.stringify(decision).length + (reservation ? JSON.stringify(reservation).length : 0);
    if (current.decisions.length > 0 && bytes + size > MESSAGE_BYTES) {
      messages.push(current);
      current = { resource, decisions: [], reservations: [] };
      bytes = JSON.stringify(resource).length;
    }
    current.decisions.push(decision);
    if (reservation && !current.reservations.includes(reservation)) current.reservations.push(reservation);
    bytes += size;
  }
  if (current.decisions.length > 0) messages.push(current);
  return messages;
}

/** `messages` grouped for `sendBatch`: at most 100 messages and about 240 KB per call. */
export function sendBatches<T>(messages: T[], sizeOf: (m: T) => number): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m);
    if (batch.length > 0 && (batch.length === 100 || bytes + size > 240_000)) {
      batches.push(batch);
      [batch, bytes] = [[], 0];
    }
    batch.push(m);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
