/**
 * Orders as the API shows them (docs/api.md, Orders), and the replies the
 * coordinator gives: pure functions, as render.ts.
 */
import { codeToStatus, REFUSAL_MESSAGE } from "../domain/errors";
import { type ItemPhase, type Order, type OrderRefusalCode, publicStatus } from "../domain/order";
import type { ReservationStatus } from "../domain/reservation";
import { errorJson, iso, type Reply } from "./render";

/** An item's status as far as the coordinator knows it; its resource may know more (a check-in). */
function itemStatus(order: Order, phase: ItemPhase): ReservationStatus | null {
  if (phase === "held") return "HELD";
  if (phase === "confirmed" || phase === "locked") return "CONFIRMED";
  if (phase === "released") return order.status === "EXPIRED" ? "EXPIRED" : "CANCELLED";
  return null;
}

/** `statuses` (by item) replaces what the coordinator knows with what the resources say. */
export function orderJson(order: Order, statuses: (ReservationStatus | null | undefined)[] = []) {
  return {
    id: order.id,
    client_id: order.clientId,
    status: publicStatus(order.status),
    hold: order.hold,
    items: order.items.map((it, i) => ({
      resource_id: it.resourceId,
      quantity: it.quantity,
      reservation_id: it.reservationId,
      status: statuses[i] ?? itemStatus(order, it.phase),
    })),
    expires_at: iso(order.expiresAt),
    created_at: iso(order.createdAt),
    updated_at: iso(order.updatedAt),
    metadata: order.metadata,
  };
}

const MESSAGE: Record<OrderRefusalCode, string> = {
  ...REFUSAL_MESSAGE,
  NOT_FOUND: "An item names a resource that does not exist.",
  UNAVAILABLE: "An item's resource did not answer in time; nothing is held. Retry.",
};

/** The answer to POST /orders (and to a retry under its key). */
export function placeReply(order: Order, requestId: string): Reply {
  const refusal = order.refusal;
  if (order.status === "REJECTED" && refusal) {
    const details = refusal.item === null ? undefined : [{ field: `items[${refusal.item}]`, issue: refusal.code }];
    const body = {
      ...errorJson(refusal.code, MESSAGE[refusal.code], requestId, details),
      status: "REJECTED",
      order_id: order.id,
    };
    const headers: Record<string, string> = refusal.code === "UNAVAILABLE" ? { "Retry-After": "1" } : {};
    return { status: codeToStatus(refusal.code), headers, body: JSON.stringify(body) };
  }
  return { status: 201, headers: { Location: `/orders/${order.id}` }, body: JSON.stringify(orderJson(order)) };
}

/** The answer to a confirm or cancel: the order, or why not (`order_id` for operators). */
export function orderReply(
  order: Order,
  requestId: string,
  refused?: { code: OrderRefusalCode; reason: string },
): Reply {
  if (!refused) return { status: 200, headers: {}, body: JSON.stringify(orderJson(order)) };
  const message = refused.code === "INVALID_STATE" ? REFUSAL_MESSAGE.INVALID_STATE : MESSAGE[refused.code];
  const headers: Record<string, string> = refused.code === "UNAVAILABLE" ? { "Retry-After": "1" } : {};
  const body = { ...errorJson(refused.code, message, requestId), order_id: order.id };
  return { status: codeToStatus(refused.code), headers, body: JSON.stringify(body) };
}

/** Items still being confirmed or released: the order stands, its items follow; answered 503 so the caller retries. */
export function unsettledReply(order: Order, requestId: string): Reply {
  const message = `Order ${publicStatus(order.status)}; its items are still being updated. Retry.`;
  const body = {
    ...errorJson("UNAVAILABLE", message, requestId),
    order_id: order.id,
    order_status: publicStatus(order.status),
  };
  return { status: 503, headers: { "Retry-After": "1" }, body: JSON.stringify(body) };
}
