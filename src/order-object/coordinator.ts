/**
 * One order's coordinator, inside its shard (order-object.ts): it keeps the
 * order in the shard's SQLite storage and drives the items' resource objects
 * by RPC; the rules of every move are domain/order.ts's, this sequences and
 * stores them. One drive runs at a time: client commands and resources
 * asking for an outcome wait for it or join it. When the order must next be
 * driven (its decision deadline, a HELD order's expiry, a retry with backoff
 * while an item has not acknowledged) is stored with it; the shard's alarm
 * comes for the earliest.
 */
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
import type { resourceStub } from "../resource-object/address";
import type { CommandReply } from "../resource-object/commands";
import { orderReply, placeReply, unsettledReply } from "../wire/order";
import { errorReply } from "../wire/render";
import { type Answer, callItem } from "./item-call";
import type { OrderOutbox } from "./order-outbox";
import type { OrderStep, OrderStore, StoredOrder } from "./order-store";

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

/** The resource objects' order calls, as the coordinator sees them (tests wrap them to cut an item off). */
export type ItemCalls = Pick<
  ReturnType<typeof resourceStub>,
  "holdForOrder" | "confirmForOrder" | "releaseForOrder" | "lockForOrder" | "unlockForOrder" | "getReservation"
>;

/** What a coordinator needs of its shard. */
export interface CoordinatorParts {
  store: OrderStore;
  outbox: OrderOutbox;
  transaction: (fn: () => void) => void;
  clock: () => number;
  itemCalls: (resourceId: string) => ItemCalls;
  /** The order's next wake-up changed: the shard sets its alarm for the earliest. */
  rearm: () => void;
}

/** Rounds of calls one drive makes at most: 20 holds, then confirms or releases, with room to spare. */
const MAX_ROUNDS = 30;
/** The backstop for an outbox that failed to send (order-outbox.ts). */
const OUTBOX_RETRY_MS = 30_000;

export class Coordinator {
  private order: Order;
  private readonly fingerprint: string;
  private firstReply: StoredOrder["firstReply"];
  private driving: Promise<void> | null = null;
  /** Drives in a row that left calls failing: the retry's backoff. */
  private failures = 0;
  /** The wake-up stored with the order (storeWake), so an unchanged one is not written again. */
  private wakeAt: number | null;

  constructor(
    private readonly parts: CoordinatorParts,
    stored: StoredOrder,
  ) {
    ({ order: this.order, fingerprint: this.fingerprint, firstReply: this.firstReply } = stored);
    this.wakeAt = stored.wakeAt;
  }

  /** The intent, before any call: the order, its first step, and a wake-up at its deadline (presumed abort). */
  static begin(parts: CoordinatorParts, input: PlaceInput): Coordinator {
    const now = parts.clock();
    const order = newOrder(
      { id: input.orderId, clientId: input.clientId, hold: input.hold, metadata: input.metadata },
      input.items,
      now,
    );
    parts.transaction(() => {
      parts.store.create(order, input.fingerprint, order.deadline);
      parts.store.addStep(order.id, {
        at: now,
        item: null,
        action: "create",
        ok: true,
        resourceSeq: null,
        code: null,
        reason: `${order.items.length} item(s), ${order.hold ? "to hold" : "to confirm"}; decided by ${new Date(order.deadline).toISOString()}`,
        status: order.status,
      });
    });
    parts.rearm();
    return new Coordinator(parts, { order, fingerprint: input.fingerprint, firstReply: null, wakeAt: order.deadline });
  }

  /** True when nothing runs and nothing is left to do for now: the shard may forget it (it stays stored). */
  get idle(): boolean {
    return this.driving === null && settled(this.order) && this.order.status !== "HELD";
  }

  // ---- commands ------------------------------------------------------------

  /**
   * POST /orders: places the holds, commits or aborts, and answers once every
   * item is as the outcome says. A retry (the same key names the same order)
   * waits for the running drive and gets the first answer again.
   */
  async place(input: PlaceInput, replayed: boolean): Promise<CommandReply> {
    if (this.fingerprint !== input.fingerprint) {
      const message = "This Idempotency-Key was used with a different request.";
      return { ...errorReply("IDEMPOTENCY_KEY_REUSED", message, input.requestId), replayed: false };
    }
    await this.drive(input.requestId);
    if (this.firstReply) return { ...this.firstReply, replayed };
    const order = this.order;
    const done = settled(order) || order.status === "HELD";
    const reply = done ? placeReply(order, input.requestId) : unsettledReply(order, input.requestId);
    if (done) {
      this.parts.transaction(() => this.parts.store.saveFirstReply(order.id, reply));
      this.firstReply = reply;
    }
    return { ...reply, replayed };
  }

  /** HELD → CONFIRMED, every item at once; at or after `expires_at` → 409 and every item released. */
  confirm(requestId: string): Promise<CommandReply> {
    return this.command({ type: "confirm" }, requestId);
  }

  /** HELD|CONFIRMED → CANCELLED, every item released; 409 when an item is checked in (nothing changes). */
  cancel(requestId: string): Promise<CommandReply> {
    return this.command({ type: "cancel" }, requestId);
  }

  // ---- reads ---------------------------------------------------------------

  get(): Order {
    this.apply({ type: "tick" }); // a HELD order past its expiry reads EXPIRED at once
    return this.order;
  }

  steps(afterSeq: number, limit: number): { order: Order; steps: OrderStep[] } {
    return { order: this.order, steps: this.parts.store.steps(this.order.id, afterSeq, limit) };
  }

  // ---- the items' resources and the webhooks -------------------------------

  /**
   * A resource whose hold for this order reached its deadline asks what to
   * do. An undecided order past its deadline is aborted here first (presumed
   * abort), stored before the answer leaves, so it can never commit later.
   */
  outcome(item: number): ItemOutcome {
    const { outcome } = outcomeForItem(this.order, this.parts.clock());
    this.apply({ type: "tick" });
    if (outcome !== "wait") this.kick();
    this.record({ at: this.parts.clock(), item, action: "asked", ok: true, reason: `item asked: ${outcome}` });
    return outcome;
  }

  /** The webhook consumer gave up on one of this order's events: kept as a step (once per event and target). */
  recordDeadLetter(d: { eventId: string; url: string; attempts: number | null; error: string }): void {
    const gaveUp = d.attempts === null ? "gave up" : `gave up after ${d.attempts} attempts`;
    const which = `webhook ${d.eventId} to ${d.url}:`;
    const steps = this.parts.store.steps(this.order.id, 0, 1000);
    if (steps.some((s) => s.action === "webhook.dead_letter" && s.reason.startsWith(which))) return;
    const reason = `${which} ${gaveUp}: ${d.error}`;
    this.record({ at: this.parts.clock(), item: null, action: "webhook.dead_letter", ok: false, reason });
  }

  // ---- driving -------------------------------------------------------------

  /** Starts a drive if none runs; every caller waits for the same one. */
  drive(requestId: string): Promise<void> {
    this.driving ??= this.runCalls(requestId).finally(() => {
      this.driving = null;
    });
    return this.driving;
  }

  private async command(event: OrderEvent, requestId: string): Promise<CommandReply> {
    await this.driving; // a placement in progress ends first
    const verdict = this.apply(event);
    await this.drive(requestId);
    const order = this.order;
    if (!verdict.ok) return { ...orderReply(order, requestId, verdict), replayed: false };
    // A cancel that met a checked-in item: the order stands as it was.
    if (event.type === "cancel" && order.status === "CONFIRMED" && order.refusal?.code === "INVALID_STATE") {
      return { ...orderReply(order, requestId, order.refusal), replayed: false };
    }
    if (!settled(order) && order.status !== "HELD") return { ...unsettledReply(order, requestId), replayed: false };
    return { ...orderReply(order, requestId), replayed: false };
  }

  /** A drive nobody waits for (a resource asked, the outcome is known): its failures are retried later. */
  private kick(): void {
    this.drive("system").catch((err) =>
      logFailure("order drive failed; retried by the shard's alarm", err, { order_id: this.order.id }),
    );
  }

  /**
   * Makes the calls the order needs, round after round, until none is left or
   * one fails (retried later). Each round's answers, the intents of the next
   * round's holds and, once nothing is left to call, the order's next wake-up
   * are stored in one transaction: a SQLite commit per round, not per answer.
   */
  private async runCalls(requestId: string): Promise<void> {
    let events: Answer[] = [];
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const calls = this.applyRound(events);
        if (calls.length === 0) return;
        const answers = await Promise.all(calls.map((call) => this.call(call, requestId)));
        if (answers.some((a) => a === "failed")) {
          this.failures += 1;
          this.applyRound(
            answers.filter((a): a is Answer => a !== "failed"),
            { retry: true },
          );
          return;
        }
        this.failures = 0;
        events = answers as Answer[];
      }
    } finally {
      this.parts.rearm();
      this.parts.outbox.flushSoon();
    }
  }

  /**
   * One round's transaction: `answers` applied (time first: a deadline may
   * have passed), then the intent of each hold about to be asked; returns the
   * calls to make. When none is left (or a call failed: `retry`), the order's
   * next wake-up is stored in the same transaction.
   */
  private applyRound(answers: Answer[], { retry = false } = {}): Call[] {
    let calls: Call[] = [];
    this.parts.transaction(() => {
      this.apply({ type: "tick" });
      for (const a of answers) this.apply(a.event, a.resourceSeq);
      calls = retry ? [] : nextCalls(this.order);
      for (const call of calls) if (call.action === "hold") this.apply({ type: "holding", item: call.item });
      if (calls.length === 0) this.storeWake();
    });
    return calls;
  }

  /** One call to an item's resource (item-call.ts); a failure is kept as a step and the call made again later. */
  private async call(call: Call, requestId: string): Promise<Answer | "failed"> {
    const it = this.order.items[call.item] as Order["items"][number];
    const answer = await callItem(this.order, call, requestId, this.parts.itemCalls(it.resourceId));
    if (!("failed" in answer)) return answer;
    const { code, reason } = answer.failed;
    this.record({ at: this.parts.clock(), item: call.item, action: call.action, ok: false, code, reason });
    return "failed";
  }

  /**
   * Decides `event` and, if it changed the order (or refused a command),
   * stores the order, the step and any event for webhooks and history in one
   * transaction.
   */
  private apply(event: OrderEvent, resourceSeq: number | null = null): Verdict {
    const before = this.order;
    const now = this.parts.clock();
    const { order, verdict, changed } = decide(before, event, now);
    if (!changed && verdict.ok) return verdict;
    const item = "item" in event ? event.item : null;
    const code = !verdict.ok ? verdict.code : event.type === "refused" ? event.code : null;
    // Inside the caller's transaction (a round's, or a command's own): nested ones join it.
    this.parts.transaction(() => {
      if (changed) this.parts.store.save(order);
      const step = { at: now, item, action: event.type, ok: verdict.ok, resourceSeq, code, reason: verdict.reason };
      this.parts.store.addStep(order.id, { ...step, status: order.status });
      // Webhooks hear of each status; the history gets the row once the items have followed (one per outcome).
      const statusChanged = publicStatus(order.status) !== publicStatus(before.status);
      const nowSettled = settled(order) && !settled(before);
      if (statusChanged || nowSettled) this.parts.outbox.changed(order, { event: statusChanged, history: nowSettled });
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
    const full = { ...step, code: step.code ?? null, resourceSeq: null, status: this.order.status };
    this.parts.transaction(() => this.parts.store.addStep(this.order.id, full));
  }

  /**
   * Stores when the order must next be driven: its deadline while undecided,
   * its expiry while held, a retry with backoff while an item has not
   * answered; none once settled. Inside the round's transaction.
   */
  private storeWake(): void {
    const order = this.order;
    const now = this.parts.clock();
    let at: number | null = null;
    if (order.status === "PENDING") at = order.deadline;
    else if (!settled(order)) at = now + backoffMs(Math.max(1, this.failures));
    else if (order.status === "HELD") at = order.expiresAt;
    if (at === null && this.parts.outbox.pending()) at = now + OUTBOX_RETRY_MS; // sent by then, or sent again
    if (at !== this.wakeAt) this.parts.store.setWake(order.id, at);
    this.wakeAt = at;
  }
}
