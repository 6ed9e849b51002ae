import { Hono } from "hono";
import { config } from "../config";
import { ownerOf } from "../domain/ids";
import { requireRole } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { idempotencyOf, sendReply } from "../http/idempotency";
import { JoinWaitingListBody, LeaveWaitingListBody } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readJson, readNoBody } from "../http/validate";
import { callbackTargetProblem } from "../lib/callback-target";
import { resourceStub } from "../resource-object/address";
import { waitingEntryJson } from "../wire/render";

/** The waiting list: joining earns a notification, in strict server order, when capacity frees up. */
export const waitingList = new Hono<AppEnv>();
waitingList.use(requireRole("admin", "client"));

waitingList.post("/join", async (c) => {
  const body = await readJson(c, JoinWaitingListBody);
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

waitingList.delete("/leave", async (c) => {
  const { entry_id } = await readJson(c, LeaveWaitingListBody);
  return sendReply(c, await owner(c.env, entry_id).leave({ entryId: entry_id, ...callerOf(c) }));
});

waitingList.get("/:id", async (c) => {
  const id = c.req.param("id");
  const entry = await owner(c.env, id).getWaitingEntry(id);
  if (!entry) throw entryNotFound();
  return c.json(waitingEntryJson(entry));
});

waitingList.delete("/:id", async (c) => {
  await readNoBody(c);
  const id = c.req.param("id");
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
