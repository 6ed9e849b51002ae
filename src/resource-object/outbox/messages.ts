/**
 * The outbox's messages: timeline entries that have not left the object yet,
 * with the reservations they touched and the resource's registry row, as the
 * history queue carries them (storage/history-writer.ts writes them to D1).
 * Runs off the commit path, from the drain.
 */
import type { ResourceState } from "../../domain/resource";
import type { TimelineEntry } from "../../domain/timeline";
import { utf8Bytes } from "../../lib/utf8";
import type { HistoryMessage } from "../../storage/history-writer";
import type { ResourceStore } from "../store";

/** How many timeline entries one drain reads at a time. */
export const DRAIN_BATCH = 200;
/**
 * A queue message may carry 128 KB and a `sendBatch` 256 KB in all (1 KB =
 * 1,000 bytes, with up to ~100 bytes of metadata per message): messages stay
 * under this many bytes of UTF-8 JSON, so a batch holds at least two.
 */
const MESSAGE_BYTES = 100_000;
/** Bytes of message bodies per `sendBatch`, leaving room for 100 messages' metadata. */
const SEND_BATCH_BYTES = 230_000;

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
  const resourceBytes = utf8Bytes(JSON.stringify(resource));
  let bytes = resourceBytes;
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
    const size = utf8Bytes(JSON.stringify(decision)) + (reservation ? utf8Bytes(JSON.stringify(reservation)) : 0);
    if (current.decisions.length > 0 && bytes + size > MESSAGE_BYTES) {
      messages.push(current);
      current = { resource, decisions: [], reservations: [] };
      bytes = resourceBytes;
    }
    current.decisions.push(decision);
    if (reservation && !current.reservations.includes(reservation)) current.reservations.push(reservation);
    bytes += size;
  }
  if (current.decisions.length > 0) messages.push(current);
  return messages;
}

/**
 * Sends `bodies` with as few `sendBatch` calls as the limits allow (100
 * messages, SEND_BATCH_BYTES), each body measured once; returns the sizes
 * sent, for the usage counters.
 */
export async function sendAll<T>(queue: Queue<T>, bodies: T[]): Promise<number[]> {
  const sized = bodies.map((body) => ({ body, bytes: utf8Bytes(JSON.stringify(body)) }));
  let batch: typeof sized = [];
  let bytes = 0;
  const send = async () => {
    if (batch.length > 0) await queue.sendBatch(batch.map((m) => ({ body: m.body, contentType: "json" as const })));
    [batch, bytes] = [[], 0];
  };
  for (const m of sized) {
    if (batch.length === 100 || bytes + m.bytes > SEND_BATCH_BYTES) await send();
    batch.push(m);
    bytes += m.bytes;
  }
  await send();
  return sized.map((m) => m.bytes);
}
