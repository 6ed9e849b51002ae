import { Hono } from "hono";
import { resourceIdOfReservation } from "../domain/ids";
import { requireRole } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply } from "../http/idempotency";
import { CreateReservationBody } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readJson, readNoBody } from "../http/validate";
import { resourceStub } from "../resource-object/address";
import { reservationJson } from "../wire/render";

export const reservations = new Hono<AppEnv>();
reservations.use(requireRole("admin", "client"));

reservations.post("/", async (c) => {
  const body = await readJson(c, CreateReservationBody);
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

reservations.get("/:id", async (c) => {
  const id = c.req.param("id");
  const reservation = await owner(c.env, id).getReservation(id);
  if (!reservation) throw reservationNotFound();
  return c.json(reservationJson(reservation));
});

/** HELD → CONFIRMED; confirming a confirmed one returns it unchanged. Idempotent with a key. */
reservations.post("/:id/confirm", async (c) => {
  await readNoBody(c);
  const reservationId = c.req.param("id");
  const idempotency = await idempotencyOf(c, "POST /reservations/confirm", { reservationId });
  return sendReply(c, await owner(c.env, reservationId).confirm({ reservationId, ...callerOf(c), idempotency }));
});

/** HELD|CONFIRMED → CANCELLED, releasing the capacity; cancelling twice returns it unchanged. */
reservations.post("/:id/cancel", async (c) => {
  await readNoBody(c);
  const reservationId = c.req.param("id");
  const idempotency = await idempotencyOf(c, "POST /reservations/cancel", { reservationId });
  return sendReply(c, await owner(c.env, reservationId).cancel({ reservationId, ...callerOf(c), idempotency }));
});

/** CONFIRMED → CHECKED_IN exactly once: a second check-in is a 409. */
reservations.post("/:id/check-in", async (c) => {
  await readNoBody(c);
  const reservationId = c.req.param("id");
  return sendReply(c, await owner(c.env, reservationId).checkIn({ reservationId, ...callerOf(c) }));
});

/** The object owning a reservation id; a malformed id is answered like an unknown one. */
function owner(env: Env, reservationId: string) {
  const resourceId = resourceIdOfReservation(reservationId);
  if (!resourceId) throw reservationNotFound();
  return resourceStub(env, resourceId);
}

function reservationNotFound(): AppError {
  return new AppError("NOT_FOUND", "Reservation not found.");
}
