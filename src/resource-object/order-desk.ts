/**
 * A resource's part in orders across resources (docs/decisions.md #54): the
 * calls of an order's coordinator — hold, confirm, release, lock, unlock —
 * each idempotent per (order, item), decided inside the object's running
 * transaction like any command (ledger.ts records them). An item's hold is a
 * held reservation tagged with its order: it counts in availability and the
 * waiting list like any hold, but it never lapses by itself; at its deadline
 * the object asks the coordinator what to do (`ResourceObject.askOrders`).
 *
 * Answers are `ItemReply` JSON (wire/order-items.ts). Repeats and refusals of
 * the protocol itself (a hold after its release) decide nothing and record
 * nothing; what the rules refuse (full, closed) is a decision, as for any
 * reservation.
 */
import { newReservationId } from "../domain/ids";
import { type Reservation, type ReservationAction, withStatus } from "../domain/reservation";
import { decide } from "../domain/resource";
import type { HoldForOrder, ItemRef, ItemReply, ReleaseForOrder } from "../wire/order-items";
import type { Reply } from "../wire/render";
import { type Cause, type Decided, decided } from "./commands";
import type { ItemState, OrderItemRow, OrderItemsStore } from "./order-items-store";
import type { ResourceStore, Sequenced } from "./store";
import type { WaitingDesk } from "./waiting-desk";

/**
 * An undecided item asks its coordinator this long after its deadline: the
 * coordinator's own alarm at the deadline normally settles it first.
 */
export const ASK_GRACE_MS = 5_000;

/** Who keeps the object's wake-up time (ledger.ts). */
export interface AskWatch {
  /** The items' next asking time may have changed. */
  orderItemsChanged(): void;
}

export class OrderDesk {
  constructor(
    private readonly store: ResourceStore,
    private readonly items: OrderItemsStore,
    private readonly waitingList: WaitingDesk,
    private readonly asks: AskWatch,
  ) {}

  /** A place for the order's item, by the resource's rules as `POST /reservations` with `hold: true`. */
  hold(current: Sequenced, input: HoldForOrder, now: number): Decided | Reply {
    const known = this.items.find(input.orderId, input.item);
    if (known?.state === "RELEASED") return refused("INVALID_STATE", "released before it was held");
    if (known) return this.itemReply(known, null, now);
    const seq = current.lastSeq + 1;
    const decision = decide(current.state, { type: "reserve", quantity: input.quantity, hold: true }, now);
    const cause: Cause = {
      type: "reservation.reserve",
      requestId: input.requestId,
      clientId: input.clientId,
      quantity: input.quantity,
      detail: { hold: true, order_id: input.orderId, order_item: input.item },
    };
    if (decision.outcome === "REJECTED") {
      return decided(current, decision, seq, now, cause, refused(decision.code, decision.reason, seq));
    }
    const reservation: Reservation = {
      id: newReservationId(current.state.id),
      resourceId: current.state.id,
      clientId: input.clientId,
      quantity: input.quantity,
      status: "HELD",
      serverTimestamp: now,
      serverSeq: seq,
      // The order decides when it ends, not the hold's own time.
      expiresAt: null,
      rulesVersion: current.state.rulesVersion,
      metadata: input.metadata,
      cancelledAt: null,
      expiredAt: null,
      checkedInAt: null,
      orderId: input.orderId,
    };
    this.store.insertReservation(reservation);
    const deadline = input.deadline ?? (decision.expiresAt as number);
    const row = { orderId: input.orderId, item: input.item, reservationId: reservation.id, state: "HELD" as const };
    this.put({ ...row, askAt: deadline + ASK_GRACE_MS });
    this.waitingList.fulfil(input.clientId, now);
    cause.detail = { ...cause.detail, reservation_id: reservation.id, status: "HELD", deadline };
    const reply = ok({ reservationId: reservation.id, status: "HELD", expiresAt: deadline, seq });
    return decided(current, decision, seq, now, cause, reply);
  }

  /** The order committed: the item's place is confirmed, whatever its hold's own time. */
  confirm(current: Sequenced, ref: ItemRef, now: number): Decided | Reply {
    const known = this.items.find(ref.orderId, ref.item);
    if (!known || known.state === "RELEASED") return refused("INVALID_STATE", "no place is held for this item");
    if (known.state !== "HELD") return this.itemReply(known, null, now);
    return this.move(current, known, "order_confirm", "CONFIRMED", ref, now);
  }

  /** The order ended without this item: its place is released, and a hold that comes later is refused. */
  release(current: Sequenced, ref: ReleaseForOrder, now: number): Decided | Reply {
    const known = this.items.find(ref.orderId, ref.item);
    if (known?.state === "RELEASED") return this.itemReply(known, null, now);
    if (!known?.reservationId) {
      // Never held here (the call was lost, or refused): remembered, so a late hold is refused.
      this.put({ orderId: ref.orderId, item: ref.item, reservationId: null, state: "RELEASED", askAt: null });
      return ok({ reservationId: null, status: null, expiresAt: null, seq: null });
    }
    const action = ref.cause === "EXPIRED" ? "order_expire" : "order_release";
    return this.move(current, known, action, "RELEASED", ref, now);
  }

  /** Before a confirmed order is cancelled: no check-in while it is (refused if it happened already). */
  lock(ref: ItemRef): Reply {
    const known = this.items.find(ref.orderId, ref.item);
    if (known?.state === "LOCKED") return this.itemReply(known, null, 0);
    if (known?.state !== "CONFIRMED") return refused("INVALID_STATE", "the item is not confirmed");
    const reservation = this.reservationOf(known);
    if (reservation?.status === "CHECKED_IN") return refused("INVALID_STATE", "the item is checked in");
    this.put({ ...known, state: "LOCKED" });
    return this.itemReply({ ...known, state: "LOCKED" }, null, 0);
  }

  /** The cancel did not happen: check-in is allowed again. */
  unlock(ref: ItemRef): Reply {
    const known = this.items.find(ref.orderId, ref.item);
    if (known?.state === "LOCKED") this.put({ ...known, state: "CONFIRMED" });
    if (!known || known.state === "RELEASED" || known.state === "HELD") return refused("INVALID_STATE", "not locked");
    return this.itemReply({ ...known, state: "CONFIRMED" }, null, 0);
  }

  /** Why a client may not act on an order's item directly (null when it may). */
  refusalFor(r: Reservation, action: ReservationAction): string | null {
    if (!r.orderId) return null;
    if (action !== "check_in") return `an item of order ${r.orderId}: the order decides`;
    const item = this.items.ofReservation(r.orderId, r.id);
    return item?.state === "LOCKED" ? `order ${r.orderId} is being cancelled` : null;
  }

  /** Undecided items due to ask their coordinator. */
  dueAsks(now: number, limit: number): OrderItemRow[] {
    return this.items.due(now, limit);
  }

  /** The coordinator could not say yet (or was unreachable): ask again at `at`. */
  askAgainAt(row: OrderItemRow, at: number): void {
    const known = this.items.find(row.orderId, row.item);
    if (known?.state === "HELD") this.put({ ...known, askAt: at });
  }

  private move(
    current: Sequenced,
    known: OrderItemRow,
    action: ReservationAction,
    to: ItemState,
    ref: ItemRef,
    now: number,
  ): Decided | Reply {
    const found = this.reservationOf(known);
    if (!found) return refused("INVALID_STATE", "the item's reservation is gone");
    const seq = current.lastSeq + 1;
    const decision = decide(current.state, { type: "reservation", action, reservation: found }, now);
    const cause: Cause = {
      type: `reservation.${action}`,
      requestId: ref.requestId,
      clientId: found.clientId,
      quantity: found.quantity,
      detail: { reservation_id: found.id, status: found.status, order_id: ref.orderId, order_item: ref.item },
    };
    if (decision.outcome === "REJECTED") {
      return decided(current, decision, seq, now, cause, refused(decision.code, decision.reason, seq));
    }
    const status = decision.reservationStatus ?? found.status;
    if (status !== found.status) this.store.setStatus(found.id, status, now, seq);
    this.put({ ...known, state: to, askAt: null });
    cause.detail = { ...cause.detail, status };
    const after = withStatus(found, status, now);
    const reply = ok({ reservationId: after.id, status: after.status, expiresAt: null, seq });
    return decided(current, decision, seq, now, cause, reply);
  }

  private put(row: OrderItemRow): void {
    this.items.put(row);
    this.asks.orderItemsChanged();
  }

  private reservationOf(row: OrderItemRow): Reservation | null {
    return row.reservationId ? this.store.getReservation(row.reservationId, "") : null;
  }

  /** A repeated call: the item as it stands. */
  private itemReply(row: OrderItemRow, seq: number | null, _now: number): Reply {
    const reservation = this.reservationOf(row);
    const expiresAt = row.askAt === null ? null : row.askAt - ASK_GRACE_MS;
    return ok({ reservationId: row.reservationId, status: reservation?.status ?? null, expiresAt, seq });
  }
}

function ok(r: Omit<Extract<ItemReply, { ok: true }>, "ok">): Reply {
  return { status: 200, headers: {}, body: JSON.stringify({ ok: true, ...r } satisfies ItemReply) };
}

function refused(code: Extract<ItemReply, { ok: false }>["code"], reason: string, seq: number | null = null): Reply {
  return { status: 409, headers: {}, body: JSON.stringify({ ok: false, code, reason, seq } satisfies ItemReply) };
}
