/**
 * Orders (docs/api.md, Orders): one booking across resources, all or
 * nothing. Each order has its coordinator in the shard object its id names
 * (order-object/); under an Idempotency-Key the id is a digest of the
 * caller's key, so a retry finds the same order without a lookup.
 */
import type { ErrorCode } from "../domain/errors";
import { isOrderId, newOrderId, orderIdOfDigest } from "../domain/ids";
import { requireRole } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply } from "../http/idempotency";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import { CreateOrderBody, TimelineQuery } from "../http/schemas";
import { sha256Hex } from "../lib/digest";
import { orderStub } from "../order-object/address";
import { resourceStub } from "../resource-object/address";
import { orderJson } from "../wire/order";
import { iso } from "../wire/render";

export const orders = routesApp();
orders.use(requireRole("admin", "client"));

const at = (r: Omit<RouteSpec, "tag" | "access">) => route("/orders", { ...r, tag: "Orders", access: "client" });
const one = (description: string) => ({ description, body: B.Order });
/** An item's resource refused, was unknown or did not answer; the order id is in the body. */
const REFUSED: ErrorCode[] = ["NOT_FOUND", "RESOURCE_FULL", "RESOURCE_CLOSED", "INVALID_STATE", "UNAVAILABLE"];

const create = at({
  method: "post",
  path: "/",
  summary: "Order places on several resources, all or nothing",
  description:
    "Holds every item in resource-id order, then confirms them all (hold: false) or keeps them held until expires_at (hold: true). When an item cannot be had the answer is 409 (or 404 for an unknown resource) naming the item in error.details, and by then no place is held for the order on any resource.",
  body: CreateOrderBody,
  idempotent: true,
  ok: { 201: { ...one("Ordered: every item CONFIRMED, or HELD until expires_at."), headers: ["Location"] } },
  errors: REFUSED,
});
orders.openapi(create, async (c) => {
  const body = valid(c, "json", CreateOrderBody);
  const idempotency = await idempotencyOf(c, "POST /orders", body);
  const orderId = idempotency ? orderIdOfDigest(await sha256Hex(`order-id\n${idempotency.key}`)) : newOrderId();
  // Without a key, the fingerprint only has to match itself.
  const fingerprint = idempotency?.fingerprint ?? orderId;
  const reply = await orderStub(c.env, orderId).place({
    orderId,
    clientId: body.client_id,
    hold: body.hold,
    metadata: body.metadata,
    items: body.items.map((i) => ({ resourceId: i.resource_id, quantity: i.quantity })),
    fingerprint,
    requestId: callerOf(c).requestId,
  });
  return sendReply(c, reply);
});

const get = at({
  method: "get",
  path: "/{id}",
  summary: "Get an order and its items",
  ok: { 200: one("The order; each item's status as its resource has it.") },
  errors: ["NOT_FOUND", "UNAVAILABLE"],
});
orders.openapi(get, async (c) => {
  const id = knownOrderId(pathParam(c, "id"));
  const order = await orderStub(c.env, id).get(id);
  if (!order) throw orderNotFound();
  // A check-in happens on the item's resource: ask each resource holding a reservation of the order.
  const statuses = await Promise.all(
    order.items.map(async (it) => {
      if (!it.reservationId) return null;
      const reservation = await resourceStub(c.env, it.resourceId)
        .getReservation(it.reservationId)
        .catch(() => null); // the coordinator's view stands in
      return reservation?.status ?? null;
    }),
  );
  return c.json(orderJson(order, statuses));
});

const transition = (path: string, summary: string, done: string) =>
  at({
    method: "post",
    path,
    summary,
    body: "none",
    idempotent: true,
    ok: { 200: one(done) },
    errors: ["NOT_FOUND", "INVALID_STATE", "UNAVAILABLE"],
  });

const confirm = transition("/{id}/confirm", "Confirm a held order, every item at once", "Confirmed (or already).");
orders.openapi(confirm, async (c) => {
  const id = knownOrderId(pathParam(c, "id"));
  const reply = await orderStub(c.env, id).confirm({ orderId: id, requestId: callerOf(c).requestId });
  if (!reply) throw orderNotFound();
  return sendReply(c, reply);
});

const cancel = transition("/{id}/cancel", "Cancel an order, releasing every item", "Cancelled (or already).");
orders.openapi(cancel, async (c) => {
  const id = knownOrderId(pathParam(c, "id"));
  const reply = await orderStub(c.env, id).cancel({ orderId: id, requestId: callerOf(c).requestId });
  if (!reply) throw orderNotFound();
  return sendReply(c, reply);
});

/** GET /admin/orders/{id}/explain: the coordinator's steps, in order. */
export const orderAdmin = routesApp();
orderAdmin.use(requireRole("admin"));

const explain = route("/admin/orders", {
  method: "get",
  path: "/{id}/explain",
  tag: "Admin",
  access: "admin",
  summary: "Every step an order took: each item's hold, confirm or release, and what refused",
  query: TimelineQuery,
  ok: { 200: { description: "The order and its steps, oldest first.", body: B.OrderExplanation } },
  errors: ["NOT_FOUND", "UNAVAILABLE"],
});
orderAdmin.openapi(explain, async (c) => {
  const query = valid(c, "query", TimelineQuery);
  const id = knownOrderId(pathParam(c, "id"));
  const found = await orderStub(c.env, id).steps({ orderId: id, afterSeq: query.after_seq, limit: query.limit });
  if (!found) throw orderNotFound();
  const { order, steps } = found;
  const last = steps.at(-1);
  return c.json({
    order: orderJson(order),
    steps: steps.map((s) => ({
      seq: s.seq,
      at: iso(s.at),
      item: s.item,
      resource_id: s.item === null ? null : (order.items[s.item]?.resourceId ?? null),
      action: s.action,
      ok: s.ok,
      server_seq: s.resourceSeq,
      code: s.code,
      reason: s.reason,
      status: s.status,
    })),
    next_after_seq: last && steps.length === query.limit ? last.seq : null,
  });
});

function knownOrderId(id: string): string {
  if (!isOrderId(id)) throw orderNotFound();
  return id;
}

function orderNotFound(): AppError {
  return new AppError("NOT_FOUND", "Order not found.");
}
