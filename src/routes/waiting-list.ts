import { config } from "../config";
import type { ErrorCode } from "../domain/errors";
import { ownerOf } from "../domain/ids";
import { requireRole } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply } from "../http/idempotency";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import { JoinWaitingListBody, LeaveWaitingListBody } from "../http/schemas";
import { callbackTargetProblem } from "../lib/callback-target";
import { resourceStub } from "../resource-object/address";
import { waitingEntryJson } from "../wire/render";

/** The waiting list: joining earns a notification, in strict server order, when capacity frees up. */
export const waitingList = routesApp();
waitingList.use(requireRole("admin", "client"));

const OBJECT: ErrorCode[] = ["NOT_FOUND", "UNAVAILABLE"];
const at = (r: Omit<RouteSpec, "tag" | "access">) =>
  route("/waiting-list", { ...r, tag: "Waiting list", access: "client" });
const left = { 200: { description: "Left (status LEFT).", body: B.WaitingListEntry } };

const join = at({
  method: "post",
  path: "/join",
  summary: "Join a resource's waiting list",
  description:
    "A quantity above the resource's capacity or max_quantity_per_reservation could never book: 400 VALIDATION_ERROR (details[].field quantity). callback_url must be https on a public host (else 400, issue unsafe_target). A notification is an offer, not a hold: it counts only while its places exist and lapses at offer_expires_at (waiting_list_offer_ttl_seconds after it was made); the entry is then EXPIRED and may join again.",
  body: JoinWaitingListBody,
  idempotent: true,
  ok: {
    201: {
      description: "Joined: WAITING, or NOTIFIED when places were free (notified in the same step).",
      body: B.WaitingListEntry,
      headers: ["Location"],
    },
    200: { description: "Already waiting or notified: the existing entry.", body: B.WaitingListEntry },
  },
  errors: [...OBJECT, "INVALID_STATE"],
});
waitingList.openapi(join, async (c) => {
  const body = valid(c, "json", JoinWaitingListBody);
  const unsafe = body.callback_url && callbackTargetProblem(body.callback_url, config(c.env).ALLOW_PRIVATE_CALLBACKS);
  if (unsafe) {
    throw new AppError("VALIDATION_ERROR", `callback_url: ${unsafe}`, [
      { field: "callback_url", issue: "unsafe_target" },
    ]);
  }
  const idempotency = await idempotencyOf(c, "POST /waiting-list/join", body);
  const reply = await resourceStub(c.env, body.resource_id).join({
    clientId: body.client_id,
    quantity: body.quantity,
    callbackUrl: body.callback_url,
    ...callerOf(c),
    idempotency,
  });
  return sendReply(c, reply);
});

const leave = at({
  method: "delete",
  path: "/leave",
  summary: "Leave the waiting list, the entry id in the body",
  body: LeaveWaitingListBody,
  ok: left,
  errors: OBJECT,
});
waitingList.openapi(leave, async (c) => {
  const { entry_id } = valid(c, "json", LeaveWaitingListBody);
  return sendReply(c, await owner(c.env, entry_id).leave({ entryId: entry_id, ...callerOf(c) }));
});

const get = at({
  method: "get",
  path: "/{id}",
  summary: "Get a waiting-list entry and its position",
  ok: { 200: { description: "The entry.", body: B.WaitingListEntry } },
  errors: OBJECT,
});
waitingList.openapi(get, async (c) => {
  const id = pathParam(c, "id");
  const entry = await owner(c.env, id).getWaitingEntry(id);
  if (!entry) throw entryNotFound();
  return c.json(waitingEntryJson(entry));
});

const remove = at({
  method: "delete",
  path: "/{id}",
  summary: "Leave the waiting list",
  body: "none",
  ok: left,
  errors: OBJECT,
});
waitingList.openapi(remove, async (c) => {
  const id = pathParam(c, "id");
  return sendReply(c, await owner(c.env, id).leave({ entryId: id, ...callerOf(c) }));
});

function owner(env: Env, entryId: string) {
  const resourceId = ownerOf("wle_", entryId);
  if (!resourceId) throw entryNotFound();
  return resourceStub(env, resourceId);
}

function entryNotFound(): AppError {
  return new AppError("NOT_FOUND", "Waiting-list entry not found.");
}
