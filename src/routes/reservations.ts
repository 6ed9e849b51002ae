import { Hono } from "hono";
import { resourceIdOfReservation } from "../domain/ids";
import { requireAdmin } from "../http/auth";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply } from "../http/idempotency";
import { reservationJson } from "../http/render";
import { CreateReservationBody } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readJson } from "../http/validate";
import { resourceStub } from "../resource-object/address";

export const reservations = new Hono<AppEnv>();
reservations.use(requireAdmin);

reservations.post("/", async (c) => {
  const body = await readJson(c, CreateReservationBody);
  const idempotency = await idempotencyOf(c, "POST /reservations", body);
  const reply = await resourceStub(c.env, body.resource_id).reserve({
    clientId: body.client_id,
    quantity: body.quantity,
    hold: body.hold,
    metadata: body.metadata,
    requestId: c.get("requestId"),
    idempotency,
  });
  return sendReply(c, reply);
});

reservations.get("/:id", async (c) => {
  const id = c.req.param("id");
  const resourceId = resourceIdOfReservation(id);
  const reservation = resourceId ? await resourceStub(c.env, resourceId).getReservation(id) : null;
  if (!reservation) throw new AppError("NOT_FOUND", "Reservation not found.");
  return c.json(reservationJson(reservation));
});
