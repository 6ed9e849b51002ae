import type { Json } from "./json";

export type ReservationStatus = "HELD" | "CONFIRMED" | "CHECKED_IN" | "CANCELLED" | "EXPIRED";

/** A reservation as the resource's Durable Object stores it (times in epoch ms). */
export interface Reservation {
  id: string;
  resourceId: string;
  clientId: string;
  quantity: number;
  status: ReservationStatus;
  serverTimestamp: number;
  serverSeq: number;
  expiresAt: number | null;
  rulesVersion: number;
  metadata: Record<string, Json>;
  cancelledAt: number | null;
  expiredAt: number | null;
  checkedInAt: number | null;
  /** The order it is an item of (domain/order.ts), or null: the order, not the client, then decides it. */
  orderId: string | null;
}

/** What the rules need to know of a reservation to move it. */
export type ReservationRef = Pick<Reservation, "status" | "quantity" | "expiresAt">;

export type ReservationAction =
  | "confirm"
  | "cancel"
  | "check_in"
  | "expire"
  /** An order's item, as its order decided (whatever the hold's own time: the order's clock decides). */
  | "order_confirm"
  | "order_release"
  | "order_expire";

export type Transition =
  | { kind: "change"; to: ReservationStatus; reason: string }
  /** An allowed repeat (confirming a confirmed one, cancelling a cancelled one): answered, nothing changes. */
  | { kind: "unchanged"; reason: string }
  | { kind: "refuse"; reason: string };

/** A hold lapses exactly at `expires_at` by server time, whether or not its expiry was processed yet. */
export function holdLapsed(r: ReservationRef, now: number): boolean {
  return r.status === "HELD" && r.expiresAt !== null && now >= r.expiresAt;
}

/**
 * The reservation lifecycle (docs/api.md): HELD → CONFIRMED → CHECKED_IN, and
 * HELD|CONFIRMED → CANCELLED, HELD → EXPIRED. Each move happens at most once.
 */
export function transition(r: ReservationRef, action: ReservationAction, now: number): Transition {
  const lapsed = holdLapsed(r, now);
  switch (action) {
    case "confirm":
      if (r.status === "HELD") {
        if (lapsed) return { kind: "refuse", reason: `hold expired at ${iso(r.expiresAt)}` };
        return { kind: "change", to: "CONFIRMED", reason: "hold confirmed" };
      }
      if (r.status === "CONFIRMED" || r.status === "CHECKED_IN")
        return { kind: "unchanged", reason: "already confirmed" };
      return { kind: "refuse", reason: `cannot confirm a ${r.status} reservation` };
    case "cancel":
      if (lapsed) return { kind: "refuse", reason: `hold expired at ${iso(r.expiresAt)}` };
      if (r.status === "HELD" || r.status === "CONFIRMED")
        return { kind: "change", to: "CANCELLED", reason: "cancelled" };
      if (r.status === "CANCELLED") return { kind: "unchanged", reason: "already cancelled" };
      return { kind: "refuse", reason: `cannot cancel a ${r.status} reservation` };
    case "check_in":
      if (r.status === "CONFIRMED") return { kind: "change", to: "CHECKED_IN", reason: "checked in" };
      if (r.status === "CHECKED_IN") return { kind: "refuse", reason: "already checked in" };
      return { kind: "refuse", reason: `cannot check in a ${r.status} reservation` };
    case "expire":
      if (lapsed) return { kind: "change", to: "EXPIRED", reason: `hold expired at ${iso(r.expiresAt)}` };
      return { kind: "unchanged", reason: "not due" };
    case "order_confirm":
      if (r.status === "HELD") return { kind: "change", to: "CONFIRMED", reason: "its order confirmed" };
      if (r.status === "CONFIRMED" || r.status === "CHECKED_IN")
        return { kind: "unchanged", reason: "already confirmed" };
      return { kind: "refuse", reason: `cannot confirm a ${r.status} reservation` };
    case "order_release":
    case "order_expire": {
      const to = action === "order_expire" && r.status === "HELD" ? "EXPIRED" : "CANCELLED";
      if (r.status === "HELD" || r.status === "CONFIRMED") {
        return { kind: "change", to, reason: `its order ${action === "order_expire" ? "expired" : "released it"}` };
      }
      if (r.status === "CANCELLED" || r.status === "EXPIRED") return { kind: "unchanged", reason: "already released" };
      return { kind: "refuse", reason: `cannot release a ${r.status} reservation` };
    }
  }
}

/** Whether a reservation in this status takes places from the capacity (held, confirmed or checked in). */
export function holdsPlaces(status: ReservationStatus): boolean {
  return status === "HELD" || status === "CONFIRMED" || status === "CHECKED_IN";
}

/** How a status change moves the resource's counters: [confirmed delta, held delta]. */
export function capacityDelta(from: ReservationStatus, to: ReservationStatus, quantity: number): [number, number] {
  const held = (s: ReservationStatus) => (s === "HELD" ? quantity : 0);
  const confirmed = (s: ReservationStatus) => (s === "CONFIRMED" || s === "CHECKED_IN" ? quantity : 0);
  return [confirmed(to) - confirmed(from), held(to) - held(from)];
}

function iso(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString();
}

/** The reservation after a status change at `at`: the status and its timestamp field. */
export function withStatus<R extends Reservation>(r: R, status: ReservationStatus, at: number): R {
  return {
    ...r,
    status,
    cancelledAt: status === "CANCELLED" ? at : r.cancelledAt,
    expiredAt: status === "EXPIRED" ? at : r.expiredAt,
    checkedInAt: status === "CHECKED_IN" ? at : r.checkedInAt,
  };
}
