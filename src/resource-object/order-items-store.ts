/**
 * A resource's side of the orders it takes part in (orders across
 * resources): one row per (order, item) — the item's reservation, where it
 * stands, and when an undecided hold asks its coordinator what to do. A
 * released item keeps its row, so a hold that arrives after its release is
 * refused.
 */
export type ItemState = "HELD" | "CONFIRMED" | "LOCKED" | "RELEASED";

export interface OrderItemRow {
  orderId: string;
  item: number;
  reservationId: string | null;
  state: ItemState;
  askAt: number | null;
}

export class OrderItemsStore {
  constructor(private readonly sql: SqlStorage) {}

  find(orderId: string, item: number): OrderItemRow | null {
    const row = this.sql.exec("SELECT * FROM order_items WHERE order_id = ? AND item = ?", orderId, item).toArray()[0];
    return row ? toRow(row) : null;
  }

  /** The item of a reservation, if it is one (a reservation's order id and item are fixed when held). */
  ofReservation(orderId: string, reservationId: string): OrderItemRow | null {
    const row = this.sql
      .exec("SELECT * FROM order_items WHERE order_id = ? AND reservation_id = ?", orderId, reservationId)
      .toArray()[0];
    return row ? toRow(row) : null;
  }

  put(r: OrderItemRow): void {
    this.sql.exec(
      `INSERT INTO order_items (order_id, item, reservation_id, state, ask_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (order_id, item) DO UPDATE SET reservation_id = excluded.reservation_id,
         state = excluded.state, ask_at = excluded.ask_at`,
      r.orderId,
      r.item,
      r.reservationId,
      r.state,
      r.askAt,
    );
  }

  /** Undecided holds whose time to ask their coordinator has come, soonest first. */
  due(now: number, limit: number): OrderItemRow[] {
    return this.sql
      .exec("SELECT * FROM order_items WHERE state = 'HELD' AND ask_at <= ? ORDER BY ask_at LIMIT ?", now, limit)
      .toArray()
      .map(toRow);
  }

  nextAsk(): number | null {
    const row = this.sql.exec("SELECT MIN(ask_at) AS at FROM order_items WHERE state = 'HELD'").one();
    return (row.at as number | null) ?? null;
  }
}

function toRow(row: Record<string, SqlStorageValue>): OrderItemRow {
  return {
    orderId: String(row.order_id),
    item: Number(row.item),
    reservationId: row.reservation_id === null ? null : String(row.reservation_id),
    state: row.state as ItemState,
    askAt: row.ask_at === null ? null : Number(row.ask_at),
  };
}
