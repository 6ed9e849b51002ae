import { Hono } from "hono";
import { isResourceId } from "../domain/ids";
import { requireAdmin } from "../http/auth";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply, uuidFromKey } from "../http/idempotency";
import { resourceJson } from "../http/render";
import { CreateResourceBody } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readJson } from "../http/validate";
import { resourceStub } from "../resource-object/address";

export const resources = new Hono<AppEnv>();
resources.use(requireAdmin);

resources.post("/", async (c) => {
  const body = await readJson(c, CreateResourceBody);
  const idempotency = await idempotencyOf(c, "POST /resources", body);
  // Without an explicit id, a retried create must reach the same object as
  // the first attempt, so the id is derived from the idempotency key.
  const id = body.id ?? (idempotency ? await uuidFromKey(idempotency.key) : crypto.randomUUID());
  const reply = await resourceStub(c.env, id).create({
    spec: {
      id,
      type: body.type,
      capacity: body.capacity,
      waitingListEnabled: body.waiting_list_enabled,
      bookingOpensAt: body.booking_opens_at,
      bookingClosesAt: body.booking_closes_at,
      maxQuantityPerReservation: body.max_quantity_per_reservation,
      holdTtlSeconds: body.hold_ttl_seconds,
      metadata: body.metadata,
    },
    requestId: c.get("requestId"),
    idempotency,
  });
  return sendReply(c, reply);
});

resources.get("/:id", async (c) => {
  const state = await resourceStub(c.env, knownResourceId(c.req.param("id"))).get();
  if (!state) throw resourceNotFound();
  return c.json(resourceJson(state), 200, { ETag: `"${state.version}"` });
});

resources.post("/:id/close", async (c) => {
  const stub = resourceStub(c.env, knownResourceId(c.req.param("id")));
  return sendReply(c, await stub.close({ requestId: c.get("requestId") }));
});

resources.post("/:id/reopen", async (c) => {
  const stub = resourceStub(c.env, knownResourceId(c.req.param("id")));
  return sendReply(c, await stub.reopen({ requestId: c.get("requestId") }));
});

/** A path id that cannot name a resource is answered like an unknown one, without asking any object. */
export function knownResourceId(id: string): string {
  if (!isResourceId(id)) throw resourceNotFound();
  return id;
}

export function resourceNotFound(): AppError {
  return new AppError("NOT_FOUND", "Resource not found.");
}
