import { Hono } from "hono";
import { config } from "../config";
import { isResourceId } from "../domain/ids";
import { requireAdmin } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply, uuidFromKey } from "../http/idempotency";
import {
  CreateResourceBody,
  createFieldsOf,
  IfMatch,
  ListResourcesQuery,
  resourceFieldsOf,
  UpdateResourceBody,
} from "../http/schemas";
import type { AppEnv } from "../http/types";
import { parseWith, readJson, readNoBody, readQuery } from "../http/validate";
import { countUsage } from "../lib/usage";
import { resourceStub } from "../resource-object/address";
import { availabilityKey, forgetAvailability } from "../storage/availability-cache";
import { listResources } from "../storage/history";
import { resourceJson } from "../wire/render";

export const resources = new Hono<AppEnv>();
resources.use(requireAdmin);

resources.post("/", async (c) => {
  const body = await readJson(c, CreateResourceBody);
  const idempotency = await idempotencyOf(c, "POST /resources", body);
  // Without an explicit id, a retried create must reach the same object as
  // the first attempt, so the id is derived from the idempotency key.
  const id = body.id ?? (idempotency ? await uuidFromKey(idempotency.key) : crypto.randomUUID());
  const reply = await resourceStub(c.env, id).create({
    spec: { id, ...createFieldsOf(body, config(c.env).DEFAULT_HOLD_TTL_SECONDS) },
    ...callerOf(c),
    idempotency,
  });
  // An earlier lookup may have cached this id as unknown: forget it (the
  // object waited for its own "missing" write to land before creating).
  if (reply.status === 201 && !reply.replayed) {
    forgetAvailability(id);
    countUsage("kvWrites");
    await c.env.AVAILABILITY.delete(availabilityKey(id));
  }
  return sendReply(c, reply);
});

/** The registry from D1 (may lag the objects by seconds), ordered by id, with an opaque cursor. */
resources.get("/", async (c) => {
  const query = readQuery(c, ListResourcesQuery);
  const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const page = await listResources(c.env.DB, { type: query.type, state: query.state, afterId, limit: query.limit });
  return c.json({
    items: page.items.map((r) => resourceJson(r, r.waitingListLength)),
    next_cursor: page.nextAfterId === null ? null : encodeCursor(page.nextAfterId),
  });
});

resources.get("/:id", async (c) => {
  const found = await resourceStub(c.env, knownResourceId(c.req.param("id"))).get();
  if (!found) throw resourceNotFound();
  return c.json(resourceJson(found.state, found.waitingListLength), 200, { ETag: `"${found.state.version}"` });
});

/** Changes rules and metadata; `If-Match: "<version>"` makes it conditional (412 when stale). */
resources.patch("/:id", async (c) => {
  const stub = resourceStub(c.env, knownResourceId(c.req.param("id")));
  const body = await readJson(c, UpdateResourceBody);
  const ifMatchHeader = c.req.header("If-Match");
  const ifMatch = ifMatchHeader === undefined ? undefined : parseWith(IfMatch, ifMatchHeader, "header.If-Match");
  return sendReply(c, await stub.update({ patch: resourceFieldsOf(body), ifMatch, ...callerOf(c) }));
});

resources.post("/:id/close", async (c) => {
  await readNoBody(c);
  const stub = resourceStub(c.env, knownResourceId(c.req.param("id")));
  return sendReply(c, await stub.close(callerOf(c)));
});

resources.post("/:id/reopen", async (c) => {
  await readNoBody(c);
  const stub = resourceStub(c.env, knownResourceId(c.req.param("id")));
  return sendReply(c, await stub.reopen(callerOf(c)));
});

/** A path id that cannot name a resource is answered like an unknown one, without asking any object. */
export function knownResourceId(id: string): string {
  if (!isResourceId(id)) throw resourceNotFound();
  return id;
}

export function resourceNotFound(): AppError {
  return new AppError("NOT_FOUND", "Resource not found.");
}

function encodeCursor(afterId: string): string {
  return btoa(JSON.stringify({ after: afterId })).replaceAll("=", "");
}

function decodeCursor(cursor: string): string {
  try {
    const after = (JSON.parse(atob(cursor)) as { after?: unknown }).after;
    if (typeof after === "string") return after;
  } catch {
    // fall through
  }
  throw new AppError("VALIDATION_ERROR", "cursor: not a cursor this API returned", [
    { field: "query.cursor", issue: "invalid_cursor" },
  ]);
}
