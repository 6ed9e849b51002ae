/**
 * An order: places on several resources, all or nothing. Its coordinator
 * (order-object/) keeps one `Order` and drives the items' resource objects;
 * every move it makes is decided here, purely: `decide(order, event, now)`
 * moves the order on, `nextCalls(order)` says which calls to make next. The
 * protocol and why (docs/decisions.md #54):
 *
 * - the coordinator records its intent (`holding`) before each call;
 * - holds go one at a time in resource-id order, so competing orders never
 *   all fail while one could win;
 * - a refusal, an unreachable item or the decision deadline aborts: every
 *   item that may hold a place (asked, held) is released, and a hold that
 *   lands after its release is refused by the resource;
 * - the commit point is one write here: `CONFIRMED` (or `HELD` for a hold
 *   order), decided by this clock only and only before the deadline; items
 *   are then confirmed, each idempotently, until every one acknowledged;
 * - an undecided order asked for its outcome after its deadline is aborted
 *   first (presumed abort), so it can never commit later.
 */
import type { RefusalCode } from "./errors";
import type { Json } from "./resource";

/** PENDING (placing holds) and CANCELLING (locking items against check-in) are the coordinator's own. */
export type OrderStatus = "PENDING" | "HELD" | "CONFIRMED" | "CANCELLING" | "REJECTED" | "CANCELLED" | "EXPIRED";

/**
 * Where an item stands on its resource, as far as the coordinator knows.
 * `holding`: asked, no answer recorded (it may hold a place). `locked`: a
 * confirmed place that may not be checked in while the order is cancelled.
 */
export type ItemPhase = "new" | "holding" | "held" | "refused" | "confirmed" | "locked" | "released";

/** Why an order was refused: an item's refusal, an unknown resource, or no answer in time. */
export type OrderRefusalCode = RefusalCode | "NOT_FOUND" | "UNAVAILABLE";

export interface OrderItem {
  resourceId: string;
  quantity: number;
  phase: ItemPhase;
  reservationId: string | null;
  /** When the resource's hold lapses (epoch ms). */
  expiresAt: number | null;
}

export interface Order {
  id: string;
  clientId: string;
  /** `true`: hold every item until `expiresAt`; `false`: confirm them all at once. */
  hold: boolean;
  metadata: Record<string, Json>;
  status: OrderStatus;
  /** In request order; holds are placed in `holdOrder`. */
  items: OrderItem[];
  /** PENDING: the last moment the order may commit (epoch ms); afterwards it is aborted. */
  deadline: number;
  /** A HELD order's end: its items' earliest hold expiry. */
  expiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** Increases on every change: the history keeps the latest. */
  version: number;
  /** The item and the reason that refused the order (REJECTED), or that kept a cancel from happening. */
  refusal: { item: number | null; code: OrderRefusalCode; reason: string } | null;
}

export type OrderEvent =
  /** The intent, recorded before the hold call. */
  | { type: "holding"; item: number }
  | { type: "held"; item: number; reservationId: string; expiresAt: number }
  | { type: "refused"; item: number; code: OrderRefusalCode; reason: string }
  /** A hold call failed: its outcome is unknown. */
  | { type: "unreachable"; item: number; reason: string }
  | { type: "confirmed"; item: number }
  | { type: "released"; item: number }
  | { type: "locked"; item: number }
  /** The item is checked in: the order cannot be cancelled. */
  | { type: "lock_refused"; item: number; reason: string }
  | { type: "unlocked"; item: number }
  | { type: "confirm" }
  | { type: "cancel" }
  /** Time passed: an undecided order past its deadline aborts, a HELD one past `expiresAt` expires. */
  | { type: "tick" };

/** What an event did: `ok` (possibly nothing, for a late or repeated reply), or why a command was refused. */
export type Verdict = { ok: true; reason: string } | { ok: false; code: OrderRefusalCode; reason: string };

export type Call = { action: "hold" | "confirm" | "release" | "lock" | "unlock"; item: number };

/** How long an order may take to place its holds and commit. Past it the coordinator aborts it. */
export const DECISION_WINDOW_MS = 30_000;
export const MAX_ORDER_ITEMS = 20;

export function newOrder(
  input: { id: string; clientId: string; hold: boolean; metadata: Record<string, Json> },
  items: { resourceId: string; quantity: number }[],
  now: number,
): Order {
  return {
    ...input,
    status: "PENDING",
    items: items.map((i) => ({ ...i, phase: "new", reservationId: null, expiresAt: null })),
    deadline: now + DECISION_WINDOW_MS,
    expiresAt: null,
    createdAt: now,
    updatedAt: now,
    version: 1,
    refusal: null,
  };
}

/** Item indexes in the order holds are placed: by resource id, the same for every order. */
export function holdOrder(order: Order): number[] {
  return order.items.map((_, i) => i).sort((a, b) => compare(order.items[a]?.resourceId, order.items[b]?.resourceId));
}

/** Whether the order's status is final (it may still have calls to make: see `nextCalls`). */
export function decided(status: OrderStatus): boolean {
  return status !== "PENDING" && status !== "CANCELLING";
}

/** Statuses under which items must end released. */
const RELEASING: OrderStatus[] = ["REJECTED", "CANCELLED", "EXPIRED"];
/** Phases in which an item may hold a place on its resource. */
const MAY_HOLD: ItemPhase[] = ["holding", "held", "confirmed", "locked"];

/** The calls the coordinator makes next; none when the order has settled or waits for its client. */
export function nextCalls(order: Order): Call[] {
  const calls = (action: Call["action"], phases: ItemPhase[]) =>
    order.items.flatMap((it, item) => (phases.includes(it.phase) ? [{ action, item }] : []));
  switch (order.status) {
    case "PENDING": {
      // One hold at a time; an unanswered one (a restart) is asked again: holds are idempotent per item.
      const next = holdOrder(order).find((i) => order.items[i]?.phase !== "held");
      return next === undefined ? [] : [{ action: "hold", item: next }];
    }
    case "CONFIRMED":
      return [...calls("confirm", ["held"]), ...calls("unlock", ["locked"])];
    case "CANCELLING":
      return calls("lock", ["confirmed"]);
    case "HELD":
      return [];
    default:
      return calls("release", MAY_HOLD);
  }
}

/** True once nothing is left to do: every item as the order's status says it must end. */
export function settled(order: Order): boolean {
  return decided(order.status) && nextCalls(order).length === 0;
}

/**
 * The order after `event` at `now` (the coordinator's clock). Replies that
 * come late or twice change nothing they should not: a reply only moves an
 * item from the phase its call was made in.
 */
export function decide(
  order: Order,
  event: OrderEvent,
  now: number,
): { order: Order; verdict: Verdict; changed: boolean } {
  const o: Order = { ...order, items: order.items.map((i) => ({ ...i })) };
  const verdict = apply(o, event, now);
  const changed = o.status !== order.status || o.items.some((it, i) => it.phase !== order.items[i]?.phase);
  if (changed) [o.updatedAt, o.version] = [now, o.version + 1];
  return { order: o, verdict, changed };
}

function apply(o: Order, event: OrderEvent, now: number): Verdict {
  expireIfDue(o, now);
  if (event.type === "tick") return ok(`${o.status} at tick`);
  if (event.type === "confirm") return confirm(o, now);
  if (event.type === "cancel") return cancel(o);
  const it = o.items[event.item];
  if (!it) return ok("no such item");
  const item = `item ${event.item} (${it.resourceId})`;
  switch (event.type) {
    case "holding":
      if (o.status !== "PENDING" || it.phase !== "new") return ok(`${item}: not asked (${o.status}, ${it.phase})`);
      it.phase = "holding";
      return ok(`${item}: asking for a hold`);
    case "held":
      if (it.phase !== "holding" && it.phase !== "new") return ok(`${item}: repeated hold reply`);
      Object.assign(it, { phase: "held", reservationId: event.reservationId, expiresAt: event.expiresAt });
      if (o.status !== "PENDING") return ok(`${item}: held after the order was ${o.status}; released`);
      commitIfAllHeld(o);
      return ok(`${item}: held${o.status === "PENDING" ? "" : `; order ${o.status}`}`);
    case "refused":
    case "unreachable": {
      if (it.phase !== "holding" && it.phase !== "new") return ok(`${item}: late refusal`);
      const code = event.type === "refused" ? event.code : "UNAVAILABLE";
      // Refused: nothing was held. Unreachable: the hold may have landed, so it is released like a held one.
      if (event.type === "refused") it.phase = "refused";
      if (o.status === "PENDING") {
        o.status = "REJECTED";
        o.refusal = { item: event.item, code, reason: `${item}: ${event.reason}` };
      }
      return ok(`${item}: ${event.type === "refused" ? `refused, ${code}` : "unreachable"}: ${event.reason}`);
    }
    case "confirmed":
      if (it.phase !== "held") return ok(`${item}: repeated confirmation`);
      it.phase = "confirmed";
      return ok(`${item}: confirmed`);
    case "released":
      if (!MAY_HOLD.includes(it.phase) || !RELEASING.includes(o.status)) return ok(`${item}: repeated release`);
      it.phase = "released";
      return ok(`${item}: released`);
    case "locked":
      if (it.phase !== "confirmed") return ok(`${item}: repeated lock`);
      it.phase = "locked";
      if (o.status === "CANCELLING" && o.items.every((i) => i.phase === "locked")) o.status = "CANCELLED";
      return ok(`${item}: locked against check-in${o.status === "CANCELLED" ? "; order CANCELLED" : ""}`);
    case "lock_refused":
      if (o.status !== "CANCELLING") return ok(`${item}: late lock refusal`);
      o.status = "CONFIRMED"; // nothing changes: the locks already taken are undone
      o.refusal = { item: event.item, code: "INVALID_STATE", reason: `${item}: ${event.reason}` };
      return ok(`${item}: cannot be cancelled: ${event.reason}`);
    case "unlocked":
      if (it.phase !== "locked" || o.status !== "CONFIRMED") return ok(`${item}: repeated unlock`);
      it.phase = "confirmed";
      return ok(`${item}: unlocked`);
  }
}

/** The last hold answered: the commit point. Before the deadline only, by this clock. */
function commitIfAllHeld(o: Order): void {
  if (!o.items.every((i) => i.phase === "held")) return;
  if (o.hold) {
    o.status = "HELD";
    o.expiresAt = Math.min(...o.items.map((i) => i.expiresAt ?? Infinity));
  } else o.status = "CONFIRMED";
}

/** An undecided order past its deadline is aborted; a HELD one past `expiresAt` expires. */
function expireIfDue(o: Order, now: number): void {
  if (o.status === "PENDING" && now >= o.deadline) {
    o.status = "REJECTED";
    o.refusal = { item: null, code: "UNAVAILABLE", reason: "not decided by its deadline" };
  } else if (o.status === "HELD" && o.expiresAt !== null && now >= o.expiresAt) o.status = "EXPIRED";
}

function confirm(o: Order, now: number): Verdict {
  if (o.status === "HELD") {
    o.status = "CONFIRMED";
    return ok("confirmed by its client");
  }
  if (o.status === "CONFIRMED") return ok("already confirmed");
  if (o.status === "EXPIRED")
    return refuse("INVALID_STATE", `expired at ${new Date(o.expiresAt ?? now).toISOString()}`);
  return refuse("INVALID_STATE", `cannot confirm a ${o.status} order`);
}

function cancel(o: Order): Verdict {
  if (o.status === "HELD") {
    o.status = "CANCELLED";
    return ok("cancelled by its client");
  }
  if (o.status === "CONFIRMED") {
    // Confirmed places may be checked in: each is locked first, so a cancel never leaves a mix.
    if (o.items.some((i) => i.phase !== "confirmed"))
      return refuse("UNAVAILABLE", "items are still being confirmed or unlocked");
    o.status = "CANCELLING";
    o.refusal = null;
    return ok("cancelling: locking every item against check-in");
  }
  if (o.status === "CANCELLED") return ok("already cancelled");
  return refuse("INVALID_STATE", `cannot cancel a ${o.status} order`);
}

/**
 * What a resource whose order hold reached its deadline must do: confirm
 * (the order committed), release (it did not, and now never will), or wait
 * (still undecided before its deadline: ask again later).
 */
export function outcomeForItem(order: Order | null, now: number): { order: Order | null; outcome: ItemOutcome } {
  if (!order) return { order, outcome: "release" }; // no intent recorded: the order never was (presumed abort)
  const { order: o } = decide(order, { type: "tick" }, now);
  const outcome: ItemOutcome =
    o.status === "CONFIRMED" || o.status === "CANCELLING"
      ? "confirm"
      : o.status === "PENDING" || o.status === "HELD"
        ? "wait"
        : "release";
  return { order: o, outcome };
}

export type ItemOutcome = "confirm" | "release" | "wait";

/** The status a client reads: the coordinator's own steps read as what they will end as. */
export function publicStatus(status: OrderStatus): Exclude<OrderStatus, "CANCELLING"> {
  return status === "CANCELLING" ? "CONFIRMED" : status;
}

function ok(reason: string): Verdict {
  return { ok: true, reason };
}

function refuse(code: OrderRefusalCode, reason: string): Verdict {
  return { ok: false, code, reason };
}

function compare(a = "", b = ""): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
