import type { ErrorCode } from "../domain/errors";
import { resourceIdOfReservation } from "../domain/ids";
import { requireRole } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply } from "../http/idempotency";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, route, routesApp, valid } from "../http/route-spec";
import { CreateReservationBody } from "../http/schemas";
import { resourceStub } from "../resource-object/address";
import { reservationJson } from "../wire/render";

export const reservations = routesApp();
reservations.use(requireRole("admin", "client"));

/** Answered by the reservation's object: unknown ids, an overloaded object, a decision that went against the caller. */
const OBJECT: ErrorCode[] = ["NOT_FOUND", "UNAVAILABLE"];
const at = (r: Omit<Parameters<typeof route>[1], "tag" | "access">) =>
  route("/reservations", { ...r, tag: "Reservations", access: "client" });
const one = (description: string) => ({ description, body: B.Reservation });
/** A change of one reservation's status: no body, the reservation back, 409 when its status forbids it. */
const transition = (path: string, summary: string, done: string, idempotent?: true) =>
  at({
    method: "post",
    path,
    summary,
    body: "none",
    idempotent,
    ok: { 200: one(done) },
    errors: [...OBJECT, "INVALID_STATE"],
  });

const create = at({
  method: "post",
  path: "/",
  summary: "Reserve: confirm now, or hold until expires_at",
  body: CreateReservationBody,
  idempotent: true,
  ok: { 201: { ...one("Reserved."), headers: ["Location"] } },
  errors: [...OBJECT, "RESOURCE_FULL", "RESOURCE_CLOSED", "INVALID_STATE"],
});
reservations.openapi(create, async (c) => {
  const body = valid(c, "json", CreateReservationBody);
  const idempotency = await idempotencyOf(c, "POST /reservations", body);
  const reply = await resourceStub(c.env, body.resource_id).reserve({
    clientId: body.client_id,
    quantity: body.quantity,
    hold: body.hold,
    metadata: body.metadata,
    ...callerOf(c),
    idempotency,
  });
  return sendReply(c, reply);
});

const get = at({
  method: "get",
  path: "/{id}",
  summary: "Get a reservation",
  ok: { 200: one("The reservation.") },
  errors: OBJECT,
});
reservations.openapi(get, async (c) => {
  const id = pathParam(c, "id");
  const reservation = await owner(c.env, id).getReservation(id);
  if (!reservation) throw reservationNotFound();
  return c.json(reservationJson(reservation));
});

/** HELD → CONFIRMED; confirming a confirmed one returns it unchanged. Idempotent with a key. */
const confirm = transition("/{id}/confirm", "Confirm a hold", "Confirmed (or already confirmed).", true);
reservations.openapi(confirm, async (c) => {
  const reservationId = pathParam(c, "id");
  const idempotency = await idempotencyOf(c, "POST /reservations/confirm", { reservationId });
  return sendReply(c, await owner(c.env, reservationId).confirm({ reservationId, ...callerOf(c), idempotency }));
});

/** HELD|CONFIRMED → CANCELLED, releasing the capacity; cancelling twice returns it unchanged. */
const cancel = transition("/{id}/cancel", "Cancel, releasing the capacity", "Cancelled (or already cancelled).", true);
reservations.openapi(cancel, async (c) => {
  const reservationId = pathParam(c, "id");
  const idempotency = await idempotencyOf(c, "POST /reservations/cancel", { reservationId });
  return sendReply(c, await owner(c.env, reservationId).cancel({ reservationId, ...callerOf(c), idempotency }));
});

/** CONFIRMED → CHECKED_IN exactly once: a second check-in is a 409. */
const checkIn = transition("/{id}/check-in", "Check in at the door, exactly once", "Checked in.");
reservations.openapi(checkIn, async (c) => {
  const reservationId = pathParam(c, "id");
  return sendReply(c, await owner(c.env, reservationId).checkIn({ reservationId, ...callerOf(c) }));
});

/** The object owning a reservation id; a malformed id is answered like an unknown one. */
function owner(env: Env, reservationId: string) {
  return reservationOwner(env, reservationId).stub;
}

/** The resource a reservation id names and its object; 404 for an id this API never made. */
export function reservationOwner(env: Env, reservationId: string) {
  const resourceId = resourceIdOfReservation(reservationId);
  if (!resourceId) throw reservationNotFound();
  return { resourceId, stub: resourceStub(env, resourceId) };
}

function reservationNotFound(): AppError {
  return new AppError("NOT_FOUND", "Reservation not found.");
}
