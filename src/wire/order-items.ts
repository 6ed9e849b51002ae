/**
 * What an order's coordinator (order-object/) and its items' resource
 * objects say to each other over RPC. Every call names the order and the
 * item, so each is idempotent per (order, item): asked twice, a resource
 * answers the same and changes nothing more.
 */
import type { Json } from "../domain/json";
import type { OrderRefusalCode } from "../domain/order";
import type { ReservationStatus } from "../domain/reservation";

export interface ItemRef {
  orderId: string;
  /** The item's index in the order. */
  item: number;
  /** The request that drives the order now, recorded with each decision. */
  requestId: string;
}

export interface HoldForOrder extends ItemRef {
  clientId: string;
  quantity: number;
  /** When an undecided hold must be resolved: the order's decision deadline, or null for the resource's hold TTL. */
  deadline: number | null;
  metadata: Record<string, Json>;
}

export type ItemAction = "confirm" | "release" | "lock" | "unlock";

/** Why an item is released, for its resource's timeline. */
export interface ReleaseForOrder extends ItemRef {
  cause: "REJECTED" | "CANCELLED" | "EXPIRED";
}

/** A resource's answer: the item's reservation as it now stands, or why not. */
export type ItemReply =
  | {
      ok: true;
      reservationId: string | null;
      status: ReservationStatus | null;
      expiresAt: number | null;
      /** The resource's decision that answered (its `server_seq`), null when nothing was decided. */
      seq: number | null;
    }
  | { ok: false; code: OrderRefusalCode; reason: string; seq: number | null };
