import { z } from "zod";
import { config } from "../config";
import type { ErrorCode } from "../domain/errors";
import { isResourceId } from "../domain/ids";
import { requireAdmin } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply, uuidFromKey } from "../http/idempotency";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import {
  CreateResourceBody,
  createFieldsOf,
  IfMatch,
  ListResourcesQuery,
  resourceFieldsOf,
  UpdateResourceBody,
} from "../http/schemas";
import { resourceStub } from "../resource-object/address";
import { forgetAvailability } from "../storage/availability-cache";
import { listResources } from "../storage/history";
import { resourceJson } from "../wire/render";

export const resources = routesApp();
resources.use(requireAdmin);

const OBJECT: ErrorCode[] = ["NOT_FOUND", "UNAVAILABLE"];
const at = (r: Omit<RouteSpec, "tag" | "access">) => route("/resources", { ...r, tag: "Resources", access: "admin" });
const one = (description: string) => ({ description, body: B.Resource, headers: ["ETag" as const] });

const create = at({
  method: "post",
  path: "/",
  summary: "Create a resource",
  body: CreateResourceBody,
  idempotent: true,
  ok: { 201: { ...one("Created."), headers: ["Location", "ETag"] } },
  errors: ["RESOURCE_EXISTS", "UNAVAILABLE"],
});
resources.openapi(create, async (c) => {
  const body = valid(c, "json", CreateResourceBody);
  const idempotency = await idempotencyOf(c, "POST /resources", body);
  // Without an explicit id, a retried create must reach the same object as
  // the first attempt, so the id is derived from the idempotency key.
  const id = body.id ?? (idempotency ? await uuidFromKey(idempotency.key) : crypto.randomUUID());
  const reply = await resourceStub(c.env, id).create({
    spec: { id, ...createFieldsOf(body, config(c.env).DEFAULT_HOLD_TTL_SECONDS) },
    ...callerOf(c),
    idempotency,
  });
  // An earlier lookup may have cached this id as unknown: forget it. (A "missing" the object itself wrote
  // is followed by the real snapshot once that write has landed: Background.created.)
  if (reply.status === 201 && !reply.replayed) await forgetAvailability(c.env.AVAILABILITY, id);
  return sendReply(c, reply);
});

/** The registry from D1 (may lag the objects by seconds), ordered by id, with an opaque cursor. */
const list = at({
  method: "get",
  path: "/",
  summary: "List resources (may lag by seconds)",
  query: ListResourcesQuery,
  ok: { 200: { description: "A page, ordered by id.", body: B.ResourcePage } },
});
resources.openapi(list, async (c) => {
  const query = valid(c, "query", ListResourcesQuery);
  const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const page = await listResources(c.env.DB, { type: query.type, state: query.state, afterId, limit: query.limit });
  return c.json({
    items: page.items.map((r) => resourceJson(r, r.waitingListLength)),
    next_cursor: page.nextAfterId === null ? null : encodeCursor(page.nextAfterId),
  });
});

const get = at({
  method: "get",
  path: "/{id}",
  summary: "Get a resource (authoritative)",
  ok: { 200: one("The resource.") },
  errors: OBJECT,
});
resources.openapi(get, async (c) => {
  const found = await resourceStub(c.env, knownResourceId(pathParam(c, "id"))).get();
  if (!found) throw resourceNotFound();
  return c.json(resourceJson(found.state, found.waitingListLength), 200, { ETag: `"${found.state.version}"` });
});

/** Changes rules and metadata; `If-Match: "<version>"` makes it conditional (412 when stale). */
const update = at({
  method: "patch",
  path: "/{id}",
  summary: "Change rules or metadata",
  description: "Lowering capacity below confirmed + held is a 409 INVALID_STATE and changes nothing.",
  body: UpdateResourceBody,
  ifMatch: true,
  ok: { 200: one("The changed resource.") },
  errors: [...OBJECT, "INVALID_STATE"],
});
resources.openapi(update, async (c) => {
  const stub = resourceStub(c.env, knownResourceId(pathParam(c, "id")));
  const body = valid(c, "json", UpdateResourceBody);
  const ifMatch = valid(c, "header", IfMatchHeader)["If-Match"];
  return sendReply(c, await stub.update({ patch: resourceFieldsOf(body), ifMatch, ...callerOf(c) }));
});

/** Closing and reopening: no body, idempotent, the resource back. */
const toggle = (path: string, summary: string, done: string) =>
  at({ method: "post", path, summary, body: "none", ok: { 200: one(done) }, errors: OBJECT });

const close = toggle("/{id}/close", "Close a resource (idempotent)", "The closed resource.");
resources.openapi(close, async (c) => {
  const stub = resourceStub(c.env, knownResourceId(pathParam(c, "id")));
  return sendReply(c, await stub.close(callerOf(c)));
});

const reopen = toggle("/{id}/reopen", "Reopen a resource (idempotent)", "The open resource.");
resources.openapi(reopen, async (c) => {
  const stub = resourceStub(c.env, knownResourceId(pathParam(c, "id")));
  return sendReply(c, await stub.reopen(callerOf(c)));
});

/** The validated `If-Match` header (route-spec.ts declares it for `ifMatch` routes). */
const IfMatchHeader = z.object({ "If-Match": IfMatch.optional() });

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
