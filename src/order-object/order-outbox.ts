/**
 * What leaves an order's coordinator after its commits: an `order.*` webhook
 * event per public status change (delivered by the webhook queue's consumer)
 * and the order's row for the history once its items have followed each
 * outcome (the history queue's consumer writes it to D1). Written in the transaction that changed
 * the status, sent afterwards without anybody waiting; what fails to send is
 * sent again by the next drive or the alarm.
 */
import { config } from "../config";
import { type Order, publicStatus } from "../domain/order";
import { logFailure } from "../lib/log";
import { orderJson } from "../wire/order";
import { iso } from "../wire/render";
import type { OrderStore } from "./order-store";

/** Messages sent per flush: an order makes at most a handful. */
const FLUSH_LIMIT = 50;

export class OrderOutbox {
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: OrderStore,
    private readonly env: () => Env,
    private readonly transaction: (fn: () => void) => void,
  ) {}

  /** Inside the transaction that changed the order: its event if its status changed, its row if it settled. */
  changed(order: Order, send: { event: boolean; history: boolean }): void {
    const status = publicStatus(order.status);
    const json = orderJson(order);
    const url = config(this.env()).WEBHOOK_URL;
    if (url && send.event) {
      const type = `order.${status.toLowerCase()}`;
      // One event per status an order reaches (each at most once): the id is stable across retries.
      const event = {
        id: `evt_${order.id}_${status.toLowerCase()}`,
        type,
        order_id: order.id,
        resource_id: null,
        server_seq: order.version,
        occurred_at: iso(order.updatedAt),
        data: json,
      };
      this.store.queue("webhooks", { url, event });
    }
    if (send.history) this.store.queue("history", { order: orderRow(order) });
  }

  /** True while something is left to send. */
  pending(): boolean {
    return this.store.outbox(1).length > 0;
  }

  /** Sends what is waiting, in the background; one flush at a time. */
  flushSoon(): Promise<void> {
    this.flushing ??= this.flush()
      .catch((err) => logFailure("order outbox not sent; retried", err))
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const messages = this.store.outbox(FLUSH_LIMIT);
    const last = messages.at(-1);
    if (!last) return;
    const env = this.env();
    const webhooks = messages.filter((m) => m.queue === "webhooks");
    const history = messages.filter((m) => m.queue === "history");
    const send = (queue: Queue, bodies: unknown[]) =>
      bodies.length === 0 ? Promise.resolve() : queue.sendBatch(bodies.map((body) => ({ body, contentType: "json" })));
    await Promise.all([
      send(
        env.WEBHOOK_QUEUE as Queue,
        webhooks.map((m) => m.body),
      ),
      send(
        env.HISTORY_QUEUE as Queue,
        history.map((m) => m.body),
      ),
    ]);
    this.transaction(() => this.store.sent(last.seq));
  }
}

/** The order as the history keeps it (D1 `orders`). */
export function orderRow(order: Order) {
  return {
    id: order.id,
    clientId: order.clientId,
    status: publicStatus(order.status),
    hold: order.hold,
    items: JSON.stringify(orderJson(order).items),
    expiresAt: order.expiresAt,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    metadata: JSON.stringify(order.metadata),
    version: order.version,
  };
}
