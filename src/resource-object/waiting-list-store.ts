/** The waiting list's rows in the resource's SQLite database. Synchronous: runs inside the caller's transaction. */
import type { WaitingStatus } from "../domain/waiting-list";

export interface WaitingEntry {
  id: string;
  resourceId: string;
  clientId: string;
  quantity: number;
  status: WaitingStatus;
  serverSeq: number;
  joinedAt: number;
  callbackUrl: string | null;
  notifiedAt: number | null;
  leftAt: number | null;
  /** 1 = next; null once the entry no longer waits. */
  position: number | null;
}

type Row = Record<string, SqlStorageValue>;

export class WaitingListStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly resourceId: () => string,
  ) {}

  insert(e: Omit<WaitingEntry, "resourceId" | "position" | "notifiedAt" | "leftAt">): void {
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
  head(limit: number): { id: string; quantity: number; callbackUrl: string | null }[] {
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

  setStatus(id: string, status: WaitingStatus, at: number): void {
    const column = status === "NOTIFIED" ? "notified_at" : status === "LEFT" ? "left_at" : null;
    if (column) this.sql.exec(`UPDATE waiting_list SET status = ?, ${column} = ? WHERE id = ?`, status, at, id);
    else this.sql.exec("UPDATE waiting_list SET status = ? WHERE id = ?", status, id);
  }

  /** How many entries wait, and how many places notifications offered that are not booked yet. */
  counts(): { waiting: number; offered: number } {
    const row = this.sql
      .exec<Row>(
        `SELECT COALESCE(SUM(status = 'WAITING'), 0) AS waiting,
                COALESCE(SUM(CASE WHEN status = 'NOTIFIED' THEN quantity ELSE 0 END), 0) AS offered
         FROM waiting_list WHERE status IN ('WAITING', 'NOTIFIED')`,
      )
      .one();
    return { waiting: row.waiting as number, offered: row.offered as number };
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
      leftAt: row.left_at as number | null,
      position,
    };
  }
}
