// @ts-check
// Reservation loads and the checks every one of them ends with.
import { adminHeaders } from "./api.mjs";

/** The body of `POST /reservations` for one place on `resourceId`. */
export function reservationBody(resourceId) {
  return JSON.stringify({ resource_id: resourceId, client_id: "bench", quantity: 1 });
}

/** autocannon options for reservations on one resource; `onResponse(status, body)` sees every answer. */
export function reserveOne(server, resourceId, onResponse) {
  const request = { method: "POST", url: `${server.base}/reservations`, headers: adminHeaders(server) };
  request.body = reservationBody(resourceId);
  return onResponse ? { ...request, requests: [{ onResponse }] } : request;
}

/**
 * autocannon options for reservations on a resource chosen per request by
 * `pick()` (an index into `ids`). Bodies are built once, so the load
 * generator spends its CPU on sending, not on JSON.
 */
export function reservePicked(server, ids, pick) {
  const bodies = ids.map(reservationBody);
  return {
    method: "POST",
    url: `${server.base}/reservations`,
    headers: adminHeaders(server),
    requests: [{ setupRequest: (request) => ({ ...request, body: bodies[pick()] }) }],
  };
}

/**
 * The checks of a reservation run, from the settled totals before and after:
 * nothing overbooked, no 5xx, and every new confirmed place accounted for by a
 * 201 we received, or by a request cut off unanswered at the deadline (at
 * most `unanswered` of those). `cancelled` places (200 answers to cancels)
 * and `unansweredCancels` widen the window the other way.
 * @param {any} summary
 * @param {any} before
 * @param {any} after
 * @param {{ cancelled?: number, unansweredCancels?: number, unanswered?: number }} [options]
 */
export function bookingChecks(summary, before, after, { cancelled = 0, unansweredCancels = 0, unanswered } = {}) {
  const created = summary.status["201"] ?? 0;
  const cutOff = unanswered ?? summary.unanswered;
  const delta = after.confirmed - before.confirmed;
  const expected = created - cancelled;
  return {
    checks: {
      no_5xx: summary.count5xx === 0,
      no_socket_errors: summary.errors === 0,
      within_capacity: after.overbooked.length === 0,
      confirmed_accounted: delta >= expected - unansweredCancels && delta <= expected + cutOff,
    },
    info: { confirmed_delta: delta, created_201: created, cancelled_200: cancelled, unanswered: cutOff },
  };
}

/** Checks of a read-only run. */
export function readChecks(summary) {
  return {
    checks: {
      no_5xx: summary.count5xx === 0,
      no_socket_errors: summary.errors === 0,
      all_200: (summary.status["200"] ?? 0) === summary.responses,
    },
    info: {},
  };
}
