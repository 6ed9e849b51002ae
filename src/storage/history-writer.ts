/**
 * Writes decisions into the history database (D1). Objects never call it:
 * their outbox goes to the history queue, and the queue consumer writes
 * what many resources sent in one D1 batch (queues/history-consumer.ts); the
 * reconciler writes the gaps it repairs the same way.
 *
 * Idempotent by construction, so an at-least-once redelivery changes nothing
 * twice: decisions are keyed by (resource_id, seq) and inserted or ignored;
 * reservations are replaced only by a later `updated_seq`, resources only by a
 * later `last_seq`, so a batch delivered out of order never rolls anything back.
 */
import { countD1 } from "../lib/usage";
import { bulkUpsert, fromExcluded } from "./bulk-upsert";
import { decisionEvents, orders, reservations, resources } from "./d1-schema";

export type ResourceRow = typeof resources.$inferInsert & { lastSeq: number };
export type DecisionRow = Omit<typeof decisionEvents.$inferInsert, "id" | "drainedAt">;
export type ReservationRow = typeof reservations.$inferInsert;
export type OrderRow = typeof orders.$inferInsert;

/**
 * What an object sends per drain (several when large): its decisions, the
 * reservations they touched as they are now, and its registry row. Plain
 * JSON, so it crosses a queue unchanged.
 */
export interface HistoryMessage {
  resource: ResourceRow;
  decisions: DecisionRow[];
  reservations: ReservationRow[];
}

/** An order's coordinator sends its row on every change of the order's public status (order-object/). */
export interface OrderHistoryMessage {
  order: OrderRow;
}

/** What the history queue carries. */
export type HistoryQueueMessage = HistoryMessage | OrderHistoryMessage;

const KEEP_FIRST = "ON CONFLICT DO NOTHING";
/** Statements per D1 batch: one batch is one transaction, and D1 has one writer. */
const STATEMENTS_PER_BATCH = 50;
// Only what a reservation's life changes; who, what and when it was made never do.
const LATER_RESERVATION_WINS = `ON CONFLICT (id) DO UPDATE SET ${fromExcluded(reservations, {
  only: ["status", "expiresAt", "cancelledAt", "expiredAt", "checkedInAt", "updatedSeq"],
})} WHERE excluded.updated_seq > reservations.updated_seq`;
const LATER_ORDER_WINS = `ON CONFLICT (id) DO UPDATE SET ${fromExcluded(orders, { except: ["id"] })}
  WHERE excluded.version > orders.version`;
// The row as of the latest decision wins (a join changes the waiting-list length, not the version).
const LATER_RESOURCE_WINS = `ON CONFLICT (id) DO UPDATE SET ${fromExcluded(resources, { except: ["id"] })}
  WHERE excluded.last_seq > resources.last_seq`;

/** What writing a set of messages takes: its statements, of which `decisions` are the decisions' inserts. */
export interface HistoryWrite {
  statements: D1PreparedStatement[];
  decisions: Set<D1PreparedStatement>;
}

/**
 * The statements that write `messages` (from any number of resources, in
 * any order, repeats allowed), stamping new decisions with `writtenAt` as
 * their `drained_at`. A few per thousand decisions (storage/bulk-upsert.ts).
 */
export function historyWrite(db: D1Database, messages: HistoryQueueMessage[], writtenAt: number): HistoryWrite {
  const latestResource = new Map<string, ResourceRow>();
  const latestReservation = new Map<string, ReservationRow>();
  const latestOrder = new Map<string, OrderRow>();
  const decisions = new Map<string, DecisionRow & { drainedAt: number }>();
  for (const m of messages) {
    if ("order" in m) {
      const known = latestOrder.get(m.order.id);
      if (!known || known.version < m.order.version) latestOrder.set(m.order.id, m.order);
      continue;
    }
    const seen = latestResource.get(m.resource.id);
    if (!seen || seen.lastSeq < m.resource.lastSeq) latestResource.set(m.resource.id, m.resource);
    for (const r of m.reservations) {
      const known = latestReservation.get(r.id);
      if (!known || known.updatedSeq < r.updatedSeq) latestReservation.set(r.id, r);
    }
    for (const d of m.decisions) decisions.set(`${d.resourceId}\u0000${d.seq}`, { ...d, drainedAt: writtenAt });
  }
  // In (resource, seq) order, so D1's ids (the export's watermark) follow each resource's order.
  // RETURNING names only the rows really inserted (a repeat is ignored): what was new to D1.
  const inserts = bulkUpsert(db, decisionEvents, [...decisions.values()].sort(bySeq), `${KEEP_FIRST} RETURNING seq`);
  // The registry first: the daily totals' trigger reads a decision's resource type from it (migrations/0008).
  const registry = bulkUpsert(db, resources, [...latestResource.values()], LATER_RESOURCE_WINS);
  return {
    statements: [
      ...registry,
      ...inserts,
      ...bulkUpsert(db, reservations, [...latestReservation.values()], LATER_RESERVATION_WINS),
      ...bulkUpsert(db, orders, [...latestOrder.values()], LATER_ORDER_WINS),
    ],
    decisions: new Set(inserts),
  };
}

/**
 * Writes `messages` (see `historyWrite`), with `alsoRun` in the last D1
 * batch. Returns how many decisions were new to D1. Throws if D1 fails;
 * batches already written stay, which is harmless: every write is an
 * idempotent upsert.
 */
export async function writeHistory(
  db: D1Database,
  messages: HistoryQueueMessage[],
  writtenAt: number,
  alsoRun: D1PreparedStatement[] = [],
): Promise<number> {
  return runHistoryWrite(db, historyWrite(db, messages, writtenAt), alsoRun);
}

export async function runHistoryWrite(
  db: D1Database,
  write: HistoryWrite,
  alsoRun: D1PreparedStatement[] = [],
): Promise<number> {
  const statements = [...write.statements, ...alsoRun];
  let inserted = 0;
  for (let at = 0; at < statements.length; at += STATEMENTS_PER_BATCH) {
    const chunk = statements.slice(at, at + STATEMENTS_PER_BATCH);
    const results = await db.batch(chunk);
    countD1(results);
    results.forEach((r, i) => {
      if (write.decisions.has(chunk[i] as D1PreparedStatement)) inserted += r.results?.length ?? 0;
    });
  }
  return inserted;
}

function bySeq(a: DecisionRow, b: DecisionRow): number {
  return a.resourceId < b.resourceId ? -1 : a.resourceId > b.resourceId ? 1 : a.seq - b.seq;
}
