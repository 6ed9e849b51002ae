/**
 * An order shard's SQLite storage (order-object.ts): its orders (one row
 * each, the order as JSON: at most 20 items), the steps each took (GET
 * /admin/orders/{id}/explain), when each must next be driven (the shard's
 * alarm is the earliest), and the outbox (webhook events and history rows,
 * sent after the commit that made them, never on the way to an answer).
 */
import type { Order } from "../domain/order";
import type { Reply } from "../wire/render";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    -- The fingerprint of the request that created the order: a retry under its key must match it.
    fingerprint TEXT NOT NULL,
    -- The first answer to POST /orders, replayed to a retry under the same key.
    first_reply TEXT,
    -- When the order must next be driven (its deadline, expiry or a retry), or null.
    wake_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS orders_wake ON orders (wake_at) WHERE wake_at IS NOT NULL;
  CREATE TABLE IF NOT EXISTS order_steps (
    order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    item INTEGER,
    action TEXT NOT NULL,
    ok INTEGER NOT NULL,
    resource_seq INTEGER,
    code TEXT,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS order_outbox (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL CHECK (queue IN ('webhooks', 'history')),
    body TEXT NOT NULL
  );`;

export interface OrderStep {
  seq: number;
  at: number;
  item: number | null;
  action: string;
  ok: boolean;
  resourceSeq: number | null;
  code: string | null;
  reason: string;
  /** The order's status after the step. */
  status: string;
}

export interface StoredOrder {
  order: Order;
  fingerprint: string;
  firstReply: Reply | null;
  /** When the order must next be driven, or null. */
  wakeAt: number | null;
}

export interface OutboxMessage {
  seq: number;
  queue: "webhooks" | "history";
  body: unknown;
}

export class OrderStore {
  private ready = false;

  constructor(private readonly sql: SqlStorage) {}

  /** Null for an unknown order (an object that never held one has no schema: probing leaves nothing behind). */
  load(orderId: string): StoredOrder | null {
    if (!this.hasSchema()) return null;
    const row = this.sql
      .exec("SELECT body, fingerprint, first_reply, wake_at FROM orders WHERE id = ?", orderId)
      .toArray()[0];
    if (!row) return null;
    return {
      order: JSON.parse(String(row.body)) as Order,
      fingerprint: String(row.fingerprint),
      firstReply: row.first_reply === null ? null : (JSON.parse(String(row.first_reply)) as Reply),
      wakeAt: row.wake_at === null ? null : Number(row.wake_at),
    };
  }

  /** The intent: the order as first written, to be driven by `wakeAt` at the latest. Inside a transaction. */
  create(order: Order, fingerprint: string, wakeAt: number): void {
    if (!this.hasSchema()) this.sql.exec(SCHEMA);
    this.ready = true;
    this.sql.exec(
      "INSERT INTO orders (id, body, fingerprint, wake_at) VALUES (?, ?, ?, ?)",
      order.id,
      JSON.stringify(order),
      fingerprint,
      wakeAt,
    );
  }

  save(order: Order): void {
    this.sql.exec("UPDATE orders SET body = ? WHERE id = ?", JSON.stringify(order), order.id);
  }

  saveFirstReply(orderId: string, reply: Reply): void {
    this.sql.exec(
      "UPDATE orders SET first_reply = ? WHERE id = ? AND first_reply IS NULL",
      JSON.stringify(reply),
      orderId,
    );
  }

  setWake(orderId: string, at: number | null): void {
    this.sql.exec("UPDATE orders SET wake_at = ? WHERE id = ?", at, orderId);
  }

  /** Orders due to be driven by `now`, soonest first. */
  due(now: number, limit: number): string[] {
    if (!this.hasSchema()) return [];
    return this.sql
      .exec("SELECT id FROM orders WHERE wake_at <= ? ORDER BY wake_at LIMIT ?", now, limit)
      .toArray()
      .map((r) => String(r.id));
  }

  nextWake(): number | null {
    if (!this.hasSchema()) return null;
    const row = this.sql.exec("SELECT MIN(wake_at) AS at FROM orders WHERE wake_at IS NOT NULL").one();
    return (row.at as number | null) ?? null;
  }

  addStep(orderId: string, step: Omit<OrderStep, "seq">): void {
    this.sql.exec(
      `INSERT INTO order_steps (order_id, seq, at, item, action, ok, resource_seq, code, reason, status)
       VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM order_steps WHERE order_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)`,
      orderId,
      orderId,
      step.at,
      step.item,
      step.action,
      step.ok ? 1 : 0,
      step.resourceSeq,
      step.code,
      step.reason,
      step.status,
    );
  }

  steps(orderId: string, afterSeq: number, limit: number): OrderStep[] {
    return this.sql
      .exec("SELECT * FROM order_steps WHERE order_id = ? AND seq > ? ORDER BY seq LIMIT ?", orderId, afterSeq, limit)
      .toArray()
      .map((r) => ({
        seq: Number(r.seq),
        at: Number(r.at),
        item: r.item === null ? null : Number(r.item),
        action: String(r.action),
        ok: r.ok === 1,
        resourceSeq: r.resource_seq === null ? null : Number(r.resource_seq),
        code: r.code === null ? null : String(r.code),
        reason: String(r.reason),
        status: String(r.status),
      }));
  }

  queue(queue: OutboxMessage["queue"], body: unknown): void {
    this.sql.exec("INSERT INTO order_outbox (queue, body) VALUES (?, ?)", queue, JSON.stringify(body));
  }

  outbox(limit: number): OutboxMessage[] {
    if (!this.hasSchema()) return [];
    return this.sql
      .exec("SELECT seq, queue, body FROM order_outbox ORDER BY seq LIMIT ?", limit)
      .toArray()
      .map((r) => ({ seq: Number(r.seq), queue: r.queue as OutboxMessage["queue"], body: JSON.parse(String(r.body)) }));
  }

  sent(upToSeq: number): void {
    this.sql.exec("DELETE FROM order_outbox WHERE seq <= ?", upToSeq);
  }

  private hasSchema(): boolean {
    this.ready ||= this.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'orders'").toArray().length > 0;
    return this.ready;
  }
}
