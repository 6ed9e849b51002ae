/** The waiting list's rows in the resource's SQLite database. Synchronous: runs inside the caller's transaction. */
import type { Offer, WaitingEntry, WaitingEntryRef, WaitingStatus } from "../domain/waiting-list";

export type { WaitingEntry };

type Row = Record<string, SqlStorageValue>;

/** The column a status change stamps with its time. */
const STATUS_TIME_COLUMN: Partial<Record<WaitingStatus, string>> = {
  LEFT: "left_at",
  EXPIRED: "expired_at",
};

export class WaitingListStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly resourceId: () => string,
  ) {}

  insert(
    e: Omit<
      WaitingEntry,
      "resourceId" | "position" | "notifiedAt" | "offerExpiresAt" | "offered" | "leftAt" | "expiredAt"
    >,
  ): void {
    this.sql.exec(
      `INSERT INTO waiting_list (id, client_id, quantity, status, server_seq, joined_at, callback_url)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      e.id,
      e.clientId,
      e.quantity,
      e.status,
      e.serverSeq,
      e.joinedAt,
      e.callbackUrl,
    );
  }

  get(id: string): WaitingEntry | null {
    const row = this.sql.exec<Row>("SELECT * FROM waiting_list WHERE id = ?", id).toArray()[0];
    return row ? this.toEntry(row) : null;
  }

  /** The entry a client holds on this list (waiting or notified), if any. */
  activeOf(clientId: string): WaitingEntry | null {
    const row = this.sql
      .exec<Row>("SELECT * FROM waiting_list WHERE client_id = ? AND status IN ('WAITING', 'NOTIFIED')", clientId)
      .toArray()[0];
    return row ? this.toEntry(row) : null;
  }

  /** Waiting entries in join order (the head first). */
  head(limit: number): (WaitingEntryRef & { callbackUrl: string | null })[] {
    return this.sql
      .exec<Row>(
        "SELECT id, quantity, callback_url FROM waiting_list WHERE status = 'WAITING' ORDER BY server_seq LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id as string,
        quantity: r.quantity as number,
        callbackUrl: r.callback_url as string | null,
      }));
  }

  /** Live offers that lapsed by `now`, soonest first. */
  lapsedOffers(now: number, limit: number): Offer[] {
    return this.offers("offer_expires_at <= ? ORDER BY offer_expires_at, server_seq LIMIT ?", now, limit);
  }

  /** Live offers that still count places, oldest first. */
  countedOffers(limit: number): Offer[] {
    return this.offers("offered > 0 ORDER BY server_seq LIMIT ?", limit);
  }

  /** Waiting or notified entries with a quantity above `max`, in join order. */
  activeAbove(max: number, limit: number): WaitingEntryRef[] {
    return this.sql
      .exec<Row>(
        `SELECT id, quantity FROM waiting_list WHERE status IN ('WAITING', 'NOTIFIED') AND quantity > ?
         ORDER BY server_seq LIMIT ?`,
        max,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id as string, quantity: r.quantity as number }));
  }

  /** Earliest lapse of a live offer, or null. */
  nextLapse(): number | null {
    const row = this.sql
      .exec<Row>("SELECT MIN(offer_expires_at) AS at FROM waiting_list WHERE status = 'NOTIFIED'")
      .one();
    return (row.at as number | null) ?? null;
  }

  /** The entry is notified at `at`; all its places count as offered until `lapsesAt`. */
  notify(id: string, at: number, lapsesAt: number): void {
    this.sql.exec(
      "UPDATE waiting_list SET status = 'NOTIFIED', notified_at = ?, offer_expires_at = ?, offered = quantity WHERE id = ?",
      at,
      lapsesAt,
      id,
    );
  }

  setOffered(id: string, offered: number): void {
    this.sql.exec("UPDATE waiting_list SET offered = ? WHERE id = ?", offered, id);
  }

  /** The entry stops being active (FULFILLED, LEFT, EXPIRED): its offer, if any, no longer counts. */
  close(id: string, status: Exclude<WaitingStatus, "WAITING" | "NOTIFIED">, at: number): void {
    const column = STATUS_TIME_COLUMN[status];
    if (column)
      this.sql.exec(`UPDATE waiting_list SET status = ?, offered = 0, ${column} = ? WHERE id = ?`, status, at, id);
    else this.sql.exec("UPDATE waiting_list SET status = ?, offered = 0 WHERE id = ?", status, id);
  }

  /** Entries waiting, entries notified, and the places their offers still count. */
  counts(): { waiting: number; notified: number; offered: number } {
    const row = this.sql
      .exec<Row>(
        `SELECT COALESCE(SUM(status = 'WAITING'), 0) AS waiting,
                COALESCE(SUM(status = 'NOTIFIED'), 0) AS notified,
                COALESCE(SUM(CASE WHEN status = 'NOTIFIED' THEN offered ELSE 0 END), 0) AS offered
         FROM waiting_list WHERE status IN ('WAITING', 'NOTIFIED')`,
      )
      .one();
    return { waiting: row.waiting as number, notified: row.notified as number, offered: row.offered as number };
  }

  private offers(where: string, ...bindings: SqlStorageValue[]): Offer[] {
    return this.sql
      .exec<Row>(
        `SELECT id, quantity, offered, offer_expires_at FROM waiting_list WHERE status = 'NOTIFIED' AND ${where}`,
        ...bindings,
      )
      .toArray()
      .map((r) => ({
        id: r.id as string,
        quantity: r.quantity as number,
        counted: r.offered as number,
        lapsesAt: r.offer_expires_at as number,
      }));
  }

  private toEntry(row: Row): WaitingEntry {
    const status = row.status as WaitingStatus;
    const seq = row.server_seq as number;
    const position =
      status === "WAITING"
        ? (this.sql
            .exec<Row>("SELECT COUNT(*) AS n FROM waiting_list WHERE status = 'WAITING' AND server_seq <= ?", seq)
            .one().n as number)
        : null;
    return {
      id: row.id as string,
      resourceId: this.resourceId(),
      clientId: row.client_id as string,
      quantity: row.quantity as number,
      status,
      serverSeq: seq,
      joinedAt: row.joined_at as number,
      callbackUrl: row.callback_url as string | null,
      notifiedAt: row.notified_at as number | null,
      offerExpiresAt: row.offer_expires_at as number | null,
      offered: row.offered as number,
      leftAt: row.left_at as number | null,
      expiredAt: row.expired_at as number | null,
      position,
    };
  }
}
