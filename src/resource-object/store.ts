/**
 * Rows ↔ domain objects for one resource's SQLite database. Synchronous on
 * purpose: every call runs inside the caller's `transactionSync`.
 */
import type { Reservation, ReservationStatus } from "../domain/reservation";
import type { ResourceState } from "../domain/resource";
import type { RecordedEntry, TimelineEntry } from "../domain/timeline";

/** The resource plus the sequencing counters that live beside it. */
export interface Sequenced {
  state: ResourceState;
  /** The last `server_seq` handed out; the next decision gets `lastSeq + 1`. */
  lastSeq: number;
  /** The last `server_timestamp` handed out, so timestamps never go backwards. */
  lastTimestamp: number;
}

/** A reply stored under an idempotency key, replayed byte for byte. */
export interface StoredReply {
  fingerprint: string;
  status: number;
  body: string;
  headers: Record<string, string>;
}

type Row = Record<string, SqlStorageValue>;

export class ResourceStore {
  constructor(private readonly sql: SqlStorage) {}

  loadResource(): Sequenced | null {
    const row = this.sql.exec<Row>("SELECT * FROM resource").toArray()[0];
    if (!row) return null;
    return {
      state: {
        id: row.id as string,
        type: row.type as string,
        state: row.state as ResourceState["state"],
        capacity: row.capacity as number,
        confirmed: row.confirmed as number,
        held: row.held as number,
        waitingListEnabled: row.waiting_list_enabled === 1,
        bookingOpensAt: row.booking_opens_at as number | null,
        bookingClosesAt: row.booking_closes_at as number | null,
        maxQuantityPerReservation: row.max_quantity_per_reservation as number | null,
        holdTtlSeconds: row.hold_ttl_seconds as number,
        waitingListOfferTtlSeconds: row.waiting_list_offer_ttl_seconds as number,
        metadata: JSON.parse(row.metadata as string),
        version: row.version as number,
        rulesVersion: row.rules_version as number,
        createdAt: row.created_at as number,
        updatedAt: row.updated_at as number,
      },
      lastSeq: row.last_seq as number,
      lastTimestamp: row.last_timestamp as number,
    };
  }

  /** Writes the whole row: on create and on admin changes (rules, state). */
  saveResource({ state: s, lastSeq, lastTimestamp }: Sequenced): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO resource (singleton, id, type, state, capacity, confirmed, held,
         waiting_list_enabled, booking_opens_at, booking_closes_at, max_quantity_per_reservation,
         hold_ttl_seconds, waiting_list_offer_ttl_seconds, metadata, version, rules_version, created_at, updated_at,
         last_seq, last_timestamp)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      s.id,
      s.type,
      s.state,
      s.capacity,
      s.confirmed,
      s.held,
      s.waitingListEnabled ? 1 : 0,
      s.bookingOpensAt,
      s.bookingClosesAt,
      s.maxQuantityPerReservation,
      s.holdTtlSeconds,
      s.waitingListOfferTtlSeconds,
      JSON.stringify(s.metadata),
      s.version,
      s.rulesVersion,
      s.createdAt,
      s.updatedAt,
      lastSeq,
      lastTimestamp,
    );
  }

  /**
   * Writes only what a reservation decision changes: the counters and the
   * sequencing. The hot path, so it binds 6 values instead of 19.
   */
  saveCounters({ state: s, lastSeq, lastTimestamp }: Sequenced): void {
    this.sql.exec(
      `UPDATE resource SET confirmed = ?, held = ?, version = ?, updated_at = ?, last_seq = ?, last_timestamp = ?
       WHERE singleton = 1`,
      s.confirmed,
      s.held,
      s.version,
      s.updatedAt,
      lastSeq,
      lastTimestamp,
    );
  }

  insertReservation(r: Reservation): void {
    this.sql.exec(
      `INSERT INTO reservations (id, client_id, quantity, status, server_seq, server_timestamp,
         expires_at, rules_version, metadata, cancelled_at, expired_at, checked_in_at, updated_seq, order_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      r.id,
      r.clientId,
      r.quantity,
      r.status,
      r.serverSeq,
      r.serverTimestamp,
      r.expiresAt,
      r.rulesVersion,
      JSON.stringify(r.metadata),
      r.cancelledAt,
      r.expiredAt,
      r.checkedInAt,
      r.serverSeq,
      r.orderId,
    );
  }

  getReservation(id: string, resourceId: string): Reservation | null {
    const row = this.sql.exec<Row>("SELECT * FROM reservations WHERE id = ?", id).toArray()[0];
    return row ? toReservation(row, resourceId) : null;
  }

  /** Reservations with their `updated_seq` (the decision that last changed them): for the history, and explanations. */
  reservationsForHistory(ids: string[], resourceId: string): (Reservation & { updatedSeq: number })[] {
    const found: (Reservation & { updatedSeq: number })[] = [];
    // SQLite in a Durable Object binds at most 100 parameters per query.
    for (let at = 0; at < ids.length; at += 100) {
      const chunk = ids.slice(at, at + 100);
      const rows = this.sql
        .exec<Row>(`SELECT * FROM reservations WHERE id IN (${chunk.map(() => "?").join(",")})`, ...chunk)
        .toArray();
      for (const row of rows) found.push({ ...toReservation(row, resourceId), updatedSeq: row.updated_seq as number });
    }
    return found;
  }

  setStatus(id: string, status: ReservationStatus, at: number, seq: number): void {
    const column = STATUS_TIME_COLUMN[status];
    if (column) {
      this.sql.exec(
        `UPDATE reservations SET status = ?, ${column} = ?, updated_seq = ? WHERE id = ?`,
        status,
        at,
        seq,
        id,
      );
    } else {
      this.sql.exec("UPDATE reservations SET status = ?, updated_seq = ? WHERE id = ?", status, seq, id);
    }
  }

  /** Holds whose `expires_at` has passed, soonest first (uses the partial index on HELD rows). */
  dueHolds(now: number, limit: number): { id: string; quantity: number; expiresAt: number }[] {
    return this.sql
      .exec<Row>(
        "SELECT id, quantity, expires_at FROM reservations WHERE status = 'HELD' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        now,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id as string, quantity: r.quantity as number, expiresAt: r.expires_at as number }));
  }

  nextHoldExpiry(): number | null {
    const row = this.sql.exec<Row>("SELECT MIN(expires_at) AS at FROM reservations WHERE status = 'HELD'").one();
    return (row.at as number | null) ?? null;
  }

  /**
   * Appends a decision, with the first seq of the transaction recording it (`RecordedEntry.commitGroup`) and
   * the idempotency record of its request when there is one.
   */
  appendTimeline(e: TimelineEntry, commitGroup: number, remembered?: StoredReply & { key: string }): void {
    this.sql.exec(
      `INSERT INTO timeline (seq, server_timestamp, type, request_id, client_id, quantity, outcome,
         code, reason, detail, version_before, version_after, rules_version,
         idempotency_key, fingerprint, reply_status, reply_headers, reply_body, latency_ms, commit_group)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      e.seq,
      e.serverTimestamp,
      e.type,
      e.requestId,
      e.clientId,
      e.quantity,
      e.outcome,
      e.code,
      e.reason,
      JSON.stringify(e.detail),
      e.versionBefore,
      e.versionAfter,
      e.rulesVersion,
      remembered?.key ?? null,
      remembered?.fingerprint ?? null,
      remembered?.status ?? null,
      remembered ? JSON.stringify(remembered.headers) : null,
      remembered?.body ?? null,
      e.latencyMs,
      commitGroup,
    );
  }

  /** One timeline entry, e.g. to rebuild the event of a webhook retry. */
  timelineEntry(seq: number): RecordedEntry | null {
    return this.timeline(seq - 1, 1)[0] ?? null;
  }

  /** Timeline entries with `seq > afterSeq`, oldest first; uses the primary key, never scans. */
  timeline(afterSeq: number, limit: number): RecordedEntry[] {
    return this.timelineWhere("seq > ? ORDER BY seq LIMIT ?", afterSeq, limit);
  }

  /**
   * The decisions about one reservation, from the one that made it to the one that last changed it.
   * Scans that stretch of the timeline: an index on it would cost every commit a write.
   */
  timelineOfReservation(id: string, fromSeq: number, toSeq: number): RecordedEntry[] {
    const where = "seq BETWEEN ? AND ? AND json_extract(detail, '$.reservation_id') = ? ORDER BY seq";
    return this.timelineWhere(where, fromSeq, toSeq, id);
  }

  private timelineWhere(where: string, ...bindings: SqlStorageValue[]): RecordedEntry[] {
    return this.sql
      .exec<Row>(
        `SELECT seq, server_timestamp, type, request_id, client_id, quantity, outcome, code, reason, detail,
           version_before, version_after, rules_version, latency_ms, commit_group
         FROM timeline WHERE ${where}`,
        ...bindings,
      )
      .toArray()
      .map((row) => ({
        seq: row.seq as number,
        serverTimestamp: row.server_timestamp as number,
        type: row.type as string,
        requestId: row.request_id as string,
        clientId: row.client_id as string | null,
        quantity: row.quantity as number | null,
        outcome: row.outcome as TimelineEntry["outcome"],
        code: row.code as string | null,
        reason: row.reason as string,
        detail: JSON.parse(row.detail as string),
        versionBefore: row.version_before as number,
        versionAfter: row.version_after as number,
        rulesVersion: row.rules_version as number,
        latencyMs: row.latency_ms as number | null,
        commitGroup: row.commit_group as number | null,
      }));
  }

  /** The reply stored with the decision that an idempotency key caused, if any. */
  findReply(key: string): StoredReply | null {
    const row = this.sql
      .exec<Row>(
        "SELECT fingerprint, reply_status, reply_headers, reply_body FROM timeline WHERE idempotency_key = ?",
        key,
      )
      .toArray()[0];
    if (!row) return null;
    return {
      fingerprint: row.fingerprint as string,
      status: row.reply_status as number,
      headers: JSON.parse(row.reply_headers as string),
      body: row.reply_body as string,
    };
  }
}

function toReservation(row: Row, resourceId: string): Reservation {
  return {
    id: row.id as string,
    resourceId,
    clientId: row.client_id as string,
    quantity: row.quantity as number,
    status: row.status as ReservationStatus,
    serverTimestamp: row.server_timestamp as number,
    serverSeq: row.server_seq as number,
    expiresAt: row.expires_at as number | null,
    rulesVersion: row.rules_version as number,
    metadata: JSON.parse(row.metadata as string),
    cancelledAt: row.cancelled_at as number | null,
    expiredAt: row.expired_at as number | null,
    checkedInAt: row.checked_in_at as number | null,
    orderId: (row.order_id as string | null) ?? null,
  };
}

/** The columns a status change sets, besides the status itself. */
const STATUS_TIME_COLUMN: Partial<Record<ReservationStatus, string>> = {
  CANCELLED: "cancelled_at",
  EXPIRED: "expired_at",
  CHECKED_IN: "checked_in_at",
};
