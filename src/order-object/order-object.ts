import { DurableObject } from "cloudflare:workers";
import type { Json } from "../domain/json";
import {
  type Call,
  decide,
  type ItemOutcome,
  newOrder,
  nextCalls,
  type Order,
  type OrderEvent,
  outcomeForItem,
  publicStatus,
  settled,
  type Verdict,
} from "../domain/order";
import { backoffMs } from "../lib/backoff";
import { logFailure } from "../lib/log";
import { resourceStub } from "../resource-object/address";
import type { CommandReply } from "../resource-object/commands";
import { orderReply, placeReply, unsettledReply } from "../wire/order";
import type { ItemReply } from "../wire/order-items";
import { errorReply, type Reply } from "../wire/render";
import { OrderOutbox } from "./order-outbox";
import { type OrderStep, OrderStore } from "./order-store";

export interface PlaceInput {
  orderId: string;
  clientId: string;
  hold: boolean;
  metadata: Record<string, Json>;
  items: { resourceId: string; quantity: number }[];
  /** Of the request's body: a retry under the same key must send the same. */
  fingerprint: string;
  requestId: string;
}

/** The backstop for an outbox that failed to send (order-outbox.ts). */
const OUTBOX_RETRY_MS = 30_000;
/** Rounds of calls one drive makes at most: 20 holds, then confirms or releases, with room to spare. */
const MAX_ROUNDS = 30;

/** The resource objects' order calls, as the coordinator sees them (tests wrap them to cut an item off). */
export type ItemCalls = Pick<
  ReturnType<typeof resourceStub>,
  "holdForOrder" | "confirmForOrder" | "releaseForOrder" | "lockForOrder" | "unlockForOrder" | "getReservation"
>;

/**
 * One order's coordinator, addressed by the order id. It keeps the order in
 * its own SQLite storage and drives the items' resource objects by RPC; the
 * rules of every move are domain/order.ts's, this sequences and stores them.
 * One drive runs at a time: client commands and resources asking for an
 * outcome wait for it or join it. The alarm is the durable retry: at the
 * decision deadline (presumed abort), at a HELD order's expiry, and with
 * backoff while an item has not acknowledged its confirmation or release.
 */
export class OrderObject extends DurableObject<Env> {
  /** The one clock that decides an order's outcome (epoch ms). Tests replace it. */
  clock: () => number = () => Date.now();
  /** How the coordinator reaches an item's resource; tests wrap it to inject faults. */
  itemCalls: (resourceId: string) => ItemCalls = (resourceId) => resourceStub(this.env, resourceId);

  private order: Order | null = null;
  private fingerprint = "";
  private firstReply: Reply | null = null;
  private driving: Promise<void> | null = null;
  /** Drives in a row that left calls failing: the alarm's backoff. */
  private failures = 0;
  private readonly store: OrderStore;
  private readonly outbox: OrderOutbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new OrderStore(ctx.storage.sql);
    this.outbox = new OrderOutbox(
      this.store,
      () => this.env,
      (fn) => ctx.storage.transactionSync(fn),
    );
    ctx.blockConcurrencyWhile(async () => {
      const loaded = this.store.load();
      if (!loaded) return;
      ({ order: this.order, fingerprint: this.fingerprint, firstReply: this.firstReply } = loaded);
    });
  }

  // ---- commands ------------------------------------------------------------

  /**
   * POST /orders: records the intent, places the holds, commits or aborts,
   * and answers once every item is as the outcome says. A retry (the same
   * key names the same order) waits for the running drive and gets the
   * first answer again.
   */
  async place(input: PlaceInput): Promise<CommandReply> {
    if (this.order && this.fingerprint !== input.fingerprint) {
      const message = "This Idempotency-Key was used with a different request.";
      return { ...errorReply("IDEMPOTENCY_KEY_REUSED", message, input.requestId), replayed: false };
    }
    const replayed = this.order !== null;
    if (!this.order) this.begin(input);
    await this.drive(input.requestId);
    if (this.firstReply) return { ...this.firstReply, replayed };
    const order = this.current();
    const done = settled(order) || order.status === "HELD";
    const reply = done ? placeReply(order, input.requestId) : unsettledReply(order, input.requestId);
    if (done) {
      this.ctx.storage.transactionSync(() => this.store.saveFirstReply(reply));
      this.firstReply = reply;
    }
    return { ...reply, replayed };
  }

  /** HELD → CONFIRMED, every item at once; at or after `expires_at` → 409 and every item released. */
  async confirm(input: { requestId: string }): Promise<CommandReply | null> {
    return this.command({ type: "confirm" }, input.requestId);
  }

  /** HELD|CONFIRMED → CANCELLED, every item released; 409 when an item is checked in (nothing changes). */
  async cancel(input: { requestId: string }): Promise<CommandReply | null> {
    return this.command({ type: "cancel" }, input.requestId);
  }

  // ---- reads ---------------------------------------------------------------

  get(): Order | null {
    if (this.order) this.apply({ type: "tick" }); // a HELD order past its expiry reads EXPIRED at once
    return this.order;
  }

  /** The steps the coordinator took, in order (GET /admin/orders/{id}/explain). */
  steps(query: { afterSeq: number; limit: number }): { order: Order; steps: OrderStep[] } | null {
    if (!this.order) return null;
    return { order: this.order, steps: this.store.steps(query.afterSeq, query.limit) };
  }

  // ---- the items' resources ------------------------------------------------

  /**
   * A resource whose hold for this order reached its deadline asks what to
   * do. An undecided order past its deadline is aborted here first (presumed
   * abort), stored before the answer leaves, so it can never commit later.
   */
  outcome(query: { item: number }): ItemOutcome {
    if (!this.order) return "release"; // no intent was ever stored here: the order never was
    const { outcome } = outcomeForItem(this.order, this.clock());
    this.apply({ type: "tick" });
    if (outcome !== "wait") this.kick();
    this.record({ at: this.clock(), item: query.item, action: "asked", ok: true, reason: `item asked: ${outcome}` });
    return outcome;
  }

  /** The webhook consumer gave up on one of this order's events: kept as a step (once per event and target). */
  recordDeadLetter(d: { eventId: string; url: string; attempts: number | null; error: string }): void {
    if (!this.order) return;
    const gaveUp = d.attempts === null ? "gave up" : `gave up after ${d.attempts} attempts`;
    const which = `webhook ${d.eventId} to ${d.url}:`;
    const reason = `${which} ${gaveUp}: ${d.error}`;
    const steps = this.store.steps(0, 1000);
    if (steps.some((s) => s.action === "webhook.dead_letter" && s.reason.startsWith(which))) return;
    this.record({ at: this.clock(), item: null, action: "webhook.dead_letter", ok: false, reason });
  }

  override async alarm(): Promise<void> {
    if (!this.order) return;
    await this.drive("system");
  }

  // ---- driving -------------------------------------------------------------

  /** The intent, before any call: the order, its first step, and the alarm that aborts it if this object is lost. */
  private begin(input: PlaceInput): void {
    const now = this.clock();
    const order = newOrder(
      { id: input.orderId, clientId: input.clientId, hold: input.hold, metadata: input.metadata },
      input.items,
      now,
    );
    this.ctx.storage.transactionSync(() => {
      this.store.create(order, input.fingerprint);
      this.store.addStep({
        at: now,
        item: null,
        action: "create",
        ok: true,
        resourceSeq: null,
        code: null,
        reason: `${order.items.length} item(s), ${order.hold ? "to hold" : "to confirm"}; decided by ${new Date(order.deadline).toISOString()}`,
        status: order.status,
      });
      void this.ctx.storage.setAlarm(order.deadline);
    });
    [this.order, this.fingerprint] = [order, input.fingerprint];
  }

  private async command(event: OrderEvent, requestId: string): Promise<CommandReply | null> {
    if (!this.order) return null;
    await this.driving; // a placement in progress ends first
    const verdict = this.apply(event);
    await this.drive(requestId);
    const order = this.current();
    if (!verdict.ok) return { ...orderReply(order, requestId, verdict), replayed: false };
    // A cancel that met a checked-in item: the order stands as it was.
    if (event.type === "cancel" && order.status === "CONFIRMED" && order.refusal?.code === "INVALID_STATE") {
      return { ...orderReply(order, requestId, order.refusal), replayed: false };
    }
    if (!settled(order) && order.status !== "HELD") return { ...unsettledReply(order, requestId), replayed: false };
    return { ...orderReply(order, requestId), replayed: false };
  }

  /** Starts a drive if none runs; every caller waits for the same one. */
  private drive(requestId: string): Promise<void> {
    this.driving ??= this.runCalls(requestId).finally(() => {
      this.driving = null;
    });
    return this.driving;
  }

  /** A drive nobody waits for (a resource asked, the outcome is known): its failures are the alarm's. */
  private kick(): void {
    this.drive("system").catch((err) => logFailure("order drive failed; the alarm retries", err, this.logged()));
  }

  /** Makes the calls the order needs, round after round, until none is left or one fails (the alarm retries). */
  private async runCalls(requestId: string): Promise<void> {
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        this.apply({ type: "tick" });
        const calls = nextCalls(this.current());
        if (calls.length === 0) {
          this.failures = 0;
          break;
        }
        const done = await Promise.all(calls.map((call) => this.call(call, requestId)));
        if (done.includes(false)) {
          this.failures += 1;
          break;
        }
      }
    } finally {
      await this.scheduleAlarm();
      this.outbox.flushSoon();
    }
  }

  /** One call to an item's resource, its answer applied; false when it failed and must be made again. */
  private async call(call: Call, requestId: string): Promise<boolean> {
    const order = this.current();
    const it = order.items[call.item];
    if (!it) return true;
    const ref = { orderId: order.id, item: call.item, requestId };
    const resource = this.itemCalls(it.resourceId);
    if (call.action === "hold") {
      this.apply({ type: "holding", item: call.item }); // the intent, stored before the call
      let reply: ItemReply;
      try {
        const deadline = order.hold ? null : order.deadline;
        const hold = { ...ref, clientId: order.clientId, quantity: it.quantity, deadline, metadata: order.metadata };
        reply = await resource.holdForOrder(hold);
      } catch (err) {
        this.apply({ type: "unreachable", item: call.item, reason: String(err) });
        return true;
      }
      if (reply.ok) {
        const held = { reservationId: reply.reservationId ?? "", expiresAt: reply.expiresAt ?? order.deadline };
        this.apply({ type: "held", item: call.item, ...held }, reply.seq);
      } else this.apply({ type: "refused", item: call.item, code: reply.code, reason: reply.reason }, reply.seq);
      return true;
    }
    try {
      const reply =
        call.action === "confirm"
          ? await resource.confirmForOrder(ref)
          : call.action === "release"
            ? await resource.releaseForOrder({ ...ref, cause: releaseCause(order) })
            : call.action === "lock"
              ? await resource.lockForOrder(ref)
              : await resource.unlockForOrder(ref);
      if (reply.ok) {
        const type = ({ confirm: "confirmed", release: "released", lock: "locked", unlock: "unlocked" } as const)[
          call.action
        ];
        this.apply({ type, item: call.item }, reply.seq);
        return true;
      }
      if (call.action === "lock") {
        this.apply({ type: "lock_refused", item: call.item, reason: reply.reason }, reply.seq);
        return true;
      }
      this.record({
        at: this.clock(),
        item: call.item,
        action: call.action,
        ok: false,
        code: reply.code,
        reason: reply.reason,
      });
      return false;
    } catch (err) {
      this.record({ at: this.clock(), item: call.item, action: call.action, ok: false, reason: `unreachable: ${err}` });
      return false;
    }
  }

  /**
   * Decides `event` and, if it changed the order (or refused a command),
   * stores the order, the step and any event for webhooks and history in one
   * transaction.
   */
  private apply(event: OrderEvent, resourceSeq: number | null = null): Verdict {
    const before = this.current();
    const now = this.clock();
    const { order, verdict, changed } = decide(before, event, now);
    if (!changed && verdict.ok) return verdict;
    const item = "item" in event ? event.item : null;
    const code = !verdict.ok ? verdict.code : event.type === "refused" ? event.code : null;
    this.ctx.storage.transactionSync(() => {
      if (changed) this.store.save(order);
      this.store.addStep({
        at: now,
        item,
        action: event.type,
        ok: verdict.ok,
        resourceSeq,
        code,
        reason: verdict.reason,
        status: order.status,
      });
      // Webhooks hear of each status; the history also gets the row once the items have followed.
      const statusChanged = publicStatus(order.status) !== publicStatus(before.status);
      if (statusChanged || (settled(order) && !settled(before))) this.outbox.changed(order, statusChanged);
    });
    this.order = order;
    return verdict;
  }

  /** A step that changes nothing (a failed call, a resource asking), kept for the explain view. */
  private record(step: {
    at: number;
    item: number | null;
    action: string;
    ok: boolean;
    code?: string;
    reason: string;
  }) {
    const status = this.current().status;
    this.ctx.storage.transactionSync(() =>
      this.store.addStep({ ...step, code: step.code ?? null, resourceSeq: null, status }),
    );
  }

  /** The next wake-up: the deadline while undecided, the expiry while held, a retry while calls fail. */
  private async scheduleAlarm(): Promise<void> {
    const order = this.current();
    const now = this.clock();
    let at: number | null = null;
    if (order.status === "PENDING") at = order.deadline;
    else if (!settled(order)) at = now + backoffMs(Math.max(1, this.failures));
    else if (order.status === "HELD") at = order.expiresAt;
    if (at === null && this.outbox.pending()) at = now + OUTBOX_RETRY_MS; // sent by then, or sent again
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  private current(): Order {
    if (!this.order) throw new Error("order not loaded");
    return this.order;
  }

  private logged(): Record<string, unknown> {
    return { order_id: this.order?.id };
  }
}

function releaseCause(order: Order): "REJECTED" | "CANCELLED" | "EXPIRED" {
  return order.status === "CANCELLED" || order.status === "EXPIRED" ? order.status : "REJECTED";
}
