import { DurableObject } from "cloudflare:workers";
import type { ItemOutcome, Order } from "../domain/order";
import { resourceStub } from "../resource-object/address";
import type { CommandReply } from "../resource-object/commands";
import { Coordinator, type CoordinatorParts, type ItemCalls, type PlaceInput } from "./coordinator";
import { OrderOutbox } from "./order-outbox";
import { type OrderStep, OrderStore } from "./order-store";

export type { ItemCalls, PlaceInput } from "./coordinator";

/** Orders driven per alarm; the alarm comes back at once for the rest. */
const DUE_PER_ALARM = 50;

/**
 * A shard of order coordinators (docs/decisions.md #54): the orders whose id
 * maps to it (address.ts), each driven by its own `Coordinator`. One object
 * per order would make an object, with its own SQLite database, per order:
 * locally a few thousand of them exhaust workerd's process-wide SQLite
 * memory, and on Cloudflare each costs a new object. A shard keeps its orders
 * as rows; only the orders with work under way are in memory.
 *
 * The alarm is the durable retry: it fires at the earliest order's wake-up
 * (a decision deadline, a HELD order's expiry, a retry with backoff) and
 * drives the orders that are due.
 */
export class OrderObject extends DurableObject<Env> {
  /** The one clock that decides the outcome of this shard's orders (epoch ms). Tests replace it. */
  clock: () => number = () => Date.now();
  /** How a coordinator reaches an item's resource; tests wrap it to inject faults. */
  itemCalls: (resourceId: string) => ItemCalls = (resourceId) => resourceStub(this.env, resourceId);

  /** Orders with work under way (or just touched); the rest are read from storage when needed. */
  private readonly coordinators = new Map<string, Coordinator>();
  private readonly store: OrderStore;
  private readonly parts: CoordinatorParts;
  /** When the alarm is set for (epoch ms), or null. */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new OrderStore(ctx.storage.sql);
    const transaction = (fn: () => void) => ctx.storage.transactionSync(fn);
    this.parts = {
      store: this.store,
      outbox: new OrderOutbox(this.store, () => this.env, transaction),
      transaction,
      clock: () => this.clock(),
      itemCalls: (resourceId) => this.itemCalls(resourceId),
      rearm: () => this.rearm(),
    };
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  // ---- commands ------------------------------------------------------------

  /** POST /orders: records the intent (a new order) or finds the order its key names (a retry). */
  async place(input: PlaceInput): Promise<CommandReply> {
    const known = this.coordinator(input.orderId);
    const coordinator = known ?? Coordinator.begin(this.parts, input);
    this.coordinators.set(input.orderId, coordinator);
    return this.settle(input.orderId, coordinator.place(input, known !== null));
  }

  async confirm(input: { orderId: string; requestId: string }): Promise<CommandReply | null> {
    const coordinator = this.coordinator(input.orderId);
    return coordinator ? this.settle(input.orderId, coordinator.confirm(input.requestId)) : null;
  }

  async cancel(input: { orderId: string; requestId: string }): Promise<CommandReply | null> {
    const coordinator = this.coordinator(input.orderId);
    return coordinator ? this.settle(input.orderId, coordinator.cancel(input.requestId)) : null;
  }

  // ---- reads ---------------------------------------------------------------

  get(orderId: string): Order | null {
    return this.coordinator(orderId)?.get() ?? null;
  }

  /** The steps an order took, in order (GET /admin/orders/{id}/explain). */
  steps(query: { orderId: string; afterSeq: number; limit: number }): { order: Order; steps: OrderStep[] } | null {
    return this.coordinator(query.orderId)?.steps(query.afterSeq, query.limit) ?? null;
  }

  // ---- the items' resources and the webhooks -------------------------------

  /** A resource asks what to do with an undecided item (coordinator.ts); no order stored here: release it. */
  outcome(query: { orderId: string; item: number }): ItemOutcome {
    return this.coordinator(query.orderId)?.outcome(query.item) ?? "release";
  }

  recordDeadLetter(d: { orderId: string; eventId: string; url: string; attempts: number | null; error: string }): void {
    this.coordinator(d.orderId)?.recordDeadLetter(d);
  }

  /** Drives the orders that are due, then comes back for the next. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const due = this.store.due(this.clock(), DUE_PER_ALARM);
    await Promise.all(
      due.map(async (orderId) => {
        const coordinator = this.coordinator(orderId);
        if (coordinator) await this.settle(orderId, coordinator.drive("system"));
      }),
    );
    this.parts.outbox.flushSoon();
    this.rearm(true);
  }

  // ---- the shard -----------------------------------------------------------

  /** The order's coordinator, from memory or storage; null for an order this shard never held. */
  private coordinator(orderId: string): Coordinator | null {
    const cached = this.coordinators.get(orderId);
    if (cached) return cached;
    const stored = this.store.load(orderId);
    if (!stored) return null;
    const coordinator = new Coordinator(this.parts, stored);
    this.coordinators.set(orderId, coordinator);
    return coordinator;
  }

  /** Once a command is answered, an order with nothing left to do leaves memory (it stays stored). */
  private async settle<T>(orderId: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } finally {
      if (this.coordinators.get(orderId)?.idle) this.coordinators.delete(orderId);
    }
  }

  /**
   * Brings the alarm forward to the earliest order's wake-up. It is never
   * moved later here: an alarm costs a storage write, and a busy shard would
   * set it twice per order (at its intent, once it settles); one that fires
   * early finds nothing due and sets the next (`alarm`).
   */
  private rearm(exact = false): void {
    const at = this.store.nextWake();
    if (at === this.alarmAt) return;
    if (!exact && at !== null && this.alarmAt !== null && this.alarmAt <= at) return;
    if (!exact && at === null) return;
    this.alarmAt = at;
    if (at === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(at);
  }
}
