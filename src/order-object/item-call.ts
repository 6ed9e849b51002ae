/**
 * One call of an order's coordinator (coordinator.ts) to an item's resource
 * object, its answer turned into the event the order's rules take
 * (domain/order.ts). Every call is idempotent per (order, item) on the
 * resource (resource-object/order-desk.ts), so one made again is harmless.
 */
import type { Call, Order, OrderEvent } from "../domain/order";
import type { ItemReply } from "../wire/order-items";
import type { ItemCalls } from "./coordinator";

/** A call's answer, as the event it makes and the resource decision that answered. */
export type Answer = { event: OrderEvent; resourceSeq: number | null };

/** One call to an item's resource: its answer as an event to apply, or why it failed (made again later). */
export async function callItem(
  order: Order,
  call: Call,
  requestId: string,
  resource: ItemCalls,
): Promise<Answer | { failed: { code?: string; reason: string } }> {
  const it = order.items[call.item] as Order["items"][number];
  const item = call.item;
  const ref = { orderId: order.id, item, requestId };
  if (call.action === "hold") {
    let reply: ItemReply;
    try {
      const deadline = order.hold ? null : order.deadline;
      reply = await resource.holdForOrder({
        ...ref,
        clientId: order.clientId,
        quantity: it.quantity,
        deadline,
        metadata: order.metadata,
      });
    } catch (err) {
      return { event: { type: "unreachable", item, reason: String(err) }, resourceSeq: null };
    }
    if (!reply.ok)
      return { event: { type: "refused", item, code: reply.code, reason: reply.reason }, resourceSeq: reply.seq };
    const held = { reservationId: reply.reservationId ?? "", expiresAt: reply.expiresAt ?? order.deadline };
    return { event: { type: "held", item, ...held }, resourceSeq: reply.seq };
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
      return { event: { type, item }, resourceSeq: reply.seq };
    }
    if (call.action === "lock")
      return { event: { type: "lock_refused", item, reason: reply.reason }, resourceSeq: reply.seq };
    return { failed: { code: reply.code, reason: reply.reason } };
  } catch (err) {
    return { failed: { reason: `unreachable: ${err}` } };
  }
}

function releaseCause(order: Order): "REJECTED" | "CANCELLED" | "EXPIRED" {
  return order.status === "CANCELLED" || order.status === "EXPIRED" ? order.status : "REJECTED";
}
