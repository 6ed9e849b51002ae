import { AppError } from "../http/errors";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import { ExplainDecisionQuery, ExplainReservationQuery, StateQuery } from "../http/schemas";
import { resourceStub } from "../resource-object/address";
import { explanationJson, pastStateJson } from "../wire/past";
import { reservationOwner } from "./reservations";
import { knownResourceId, resourceNotFound } from "./resources";

/**
 * The past, explained (docs/api.md §Operators): a resource as it stood right
 * after any decision, and why a decision or a reservation came out as it did.
 * Answered by the resource's Durable Object, which replays its own timeline
 * with the rules that decided (resource-object/past-states.ts).
 */
export const explain = routesApp(); // mounted inside the admin routes, behind their key check

const at = (r: Omit<RouteSpec, "tag" | "access">) => route("/admin", { ...r, tag: "Admin", access: "admin" });

const state = at({
  method: "get",
  path: "/resources/{id}/state",
  summary: "A resource as it stood right after a decision, replayed from its timeline",
  query: StateQuery,
  ok: { 200: { description: "The state right after decision at_seq.", body: B.ResourceStateAt } },
  errors: ["NOT_FOUND", "UNAVAILABLE"],
});
explain.openapi(state, async (c) => {
  const query = valid(c, "query", StateQuery);
  const [cursorSeq, offset] = query.cursor ? query.cursor.split(".").map(Number) : [undefined, 0];
  if (cursorSeq !== undefined && query.at_seq !== undefined && cursorSeq !== query.at_seq) {
    const details = [{ field: "query.cursor", issue: "invalid_cursor" }];
    throw new AppError("VALIDATION_ERROR", "cursor: belongs to another at_seq", details);
  }
  const stub = resourceStub(c.env, knownResourceId(pathParam(c, "id")));
  const seq = cursorSeq ?? query.at_seq ?? null;
  const found = await stub.stateAt({ seq, offset: offset as number, limit: query.limit });
  if (!found) throw resourceNotFound();
  if (!found.replayed) throw new AppError("NOT_FOUND", `No decision ${seq}: the last one is ${found.lastSeq}.`);
  const next = (offset as number) + query.limit;
  const nextCursor = next < found.holdersTotal ? `${found.replayed.state.seq}.${next}` : null;
  return c.json({ ...pastStateJson(found.replayed, found.holdersTotal), next_cursor: nextCursor });
});

const decision = at({
  method: "get",
  path: "/resources/{id}/explain",
  summary: "Why a decision (by request_id or seq) came out as it did",
  query: ExplainDecisionQuery,
  ok: { 200: { description: "The decision, the state before it and what competed with it.", body: B.Explanation } },
  errors: ["NOT_FOUND", "UNAVAILABLE"],
});
explain.openapi(decision, async (c) => {
  const query = valid(c, "query", ExplainDecisionQuery);
  const resourceId = knownResourceId(pathParam(c, "id"));
  const stub = resourceStub(c.env, resourceId);
  const which = query.seq !== undefined ? { seq: query.seq } : { requestId: query.request_id as string };
  const found = await stub.explain({ ...which, competitors: query.competitors });
  if (!found) throw resourceNotFound();
  if (!found.explanation) {
    const what = query.seq !== undefined ? `decision ${query.seq}` : "decision with this request id";
    throw new AppError("NOT_FOUND", `No ${what} on this resource.`);
  }
  return c.json(explanationJson(resourceId, found.explanation));
});

const reservation = at({
  method: "get",
  path: "/reservations/{id}/explain",
  summary: "Why a reservation ended as it did",
  query: ExplainReservationQuery,
  ok: {
    200: {
      description: "The decision that gave the reservation its status, and every decision about it.",
      body: B.Explanation,
    },
  },
  errors: ["NOT_FOUND", "UNAVAILABLE"],
});
explain.openapi(reservation, async (c) => {
  const query = valid(c, "query", ExplainReservationQuery);
  const id = pathParam(c, "id");
  const { resourceId, stub } = reservationOwner(c.env, id);
  const found = await stub.explain({ reservationId: id, competitors: query.competitors });
  if (!found?.explanation) throw new AppError("NOT_FOUND", "Reservation not found.");
  return c.json(explanationJson(resourceId, found.explanation));
});
