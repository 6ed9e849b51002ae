/**
 * An order coordinator's SQLite storage: the order (one row, as JSON: at
 * most 20 items), the steps it took (GET /admin/orders/{id}/explain) and its
 * outbox (webhook events and history rows, sent after the commit that made
 * them, never on the way to an answer).
 */
import type { Order } from "../domain/order";
import type { Reply } from "../wire/render";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS order_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    body TEXT NOT NULL,
    -- The fingerprint of the request that created the order: a retry under its key must match it.
    fingerprint TEXT NOT NULL,
    -- The first answer to POST /orders, replayed to a retry under the same key.
    first_reply TEXT
  );
  CREATE TABLE IF NOT EXISTS order_steps (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    item INTEGER,
    action TEXT NOT NULL,
    ok INTEGER NOT NULL,
    resource_seq INTEGER,
    code TEXT,
    reason TEXT NOT NULL,
    status TEXT NOT NULL
  );
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

export interface OutboxMessage {
  seq: number;
  queue: "webhooks" | "history";
  body: unknown;
}

export class OrderStore {
  constructor(private readonly sql: SqlStorage) {}

  /** Null for an object that never held an order (no schema either: probing leaves nothing behind). */
  load(): { order: Order; fingerprint: string; firstReply: Reply | null } | null {
    const exists = this.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'order_state'").toArray().length > 0;
    if (!exists) return null;
    const row = this.sql.exec("SELECT body, fingerprint, first_reply FROM order_state").toArray()[0];
    if (!row) return null;
    return {
      order: JSON.parse(String(row.body)) as Order,
      fingerprint: String(row.fingerprint),
      firstReply: row.first_reply === null ? null : (JSON.parse(String(row.first_reply)) as Reply),
    };
  }

  /** The intent: the order as first written. Inside the caller's transaction. */
  create(order: Order, fingerprint: string): void {
    this.sql.exec(SCHEMA);
    this.sql.exec(
      "INSERT INTO order_state (singleton, body, fingerprint) VALUES (1, ?, ?)",
      JSON.stringify(order),
      fingerprint,
    );
  }

  save(order: Order): void {
    this.sql.exec("UPDATE order_state SET body = ?", JSON.stringify(order));
  }

  saveFirstReply(reply: Reply): void {
    this.sql.exec("UPDATE order_state SET first_reply = ? WHERE first_reply IS NULL", JSON.stringify(reply));
  }

  addStep(step: Omit<OrderStep, "seq">): void {
    this.sql.exec(
      `INSERT INTO order_steps (at, item, action, ok, resource_seq, code, reason, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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

  steps(afterSeq: number, limit: number): OrderStep[] {
    return this.sql
      .exec("SELECT * FROM order_steps WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
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
    return this.sql
      .exec("SELECT seq, queue, body FROM order_outbox ORDER BY seq LIMIT ?", limit)
      .toArray()
      .map((r) => ({ seq: Number(r.seq), queue: r.queue as OutboxMessage["queue"], body: JSON.parse(String(r.body)) }));
  }

  sent(upToSeq: number): void {
    this.sql.exec("DELETE FROM order_outbox WHERE seq <= ?", upToSeq);
  }
}
