// @ts-check
// orders: orders of 2 and 3 items (hold: false) on resources drawn uniformly
// from 1,000, against single reservations on the same resources in the same
// run (the ratio's baseline); then the contention check: 100 orders of {A, B}
// on capacity 10 each, fired together: 10 confirmed, 90 refused, nothing held.
import { adminHeaders, call, createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reservePicked } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

const RESOURCES = 1000;

/** Distinct resources for one order, drawn uniformly. */
function pickDistinct(ids, n) {
  const picked = new Set();
  while (picked.size < n) picked.add(ids[Math.floor(Math.random() * ids.length)]);
  return [...picked];
}

/** autocannon options for orders of `n` items on resources drawn from `ids`. */
function orderPicked(server, ids, n) {
  return {
    method: "POST",
    url: `${server.base}/orders`,
    headers: adminHeaders(server),
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ client_id: "bench", items: pickDistinct(ids, n).map((id) => ({ resource_id: id })) }),
        }),
      },
    ],
  };
}

/** 100 orders of the same two resources at once: exactly `capacity` confirmed, nothing held. */
async function contention(server) {
  const capacity = 10;
  const ids = [`orders-contended-a-${Date.now()}`, `orders-contended-b-${Date.now()}`];
  await createResources(server, ids, capacity);
  const body = { client_id: "bench", items: ids.map((id) => ({ resource_id: id })) };
  const answers = await Promise.all(Array.from({ length: 100 }, () => call(server, "POST", "/orders", body)));
  const statuses = answers.map((a) => a.status);
  const after = await settledTotals(server, ids);
  return {
    confirmed: statuses.filter((s) => s === 201).length,
    refused: statuses.filter((s) => s === 409).length,
    other: statuses.filter((s) => s !== 201 && s !== 409).length,
    places: after,
    ok:
      statuses.filter((s) => s === 201).length === capacity &&
      statuses.filter((s) => s === 409).length === 100 - capacity &&
      after.held === 0 &&
      after.confirmed === 2 * capacity,
  };
}

export const orders = {
  name: "orders",
  async setup({ server }) {
    const ids = Array.from({ length: RESOURCES }, (_, i) => `orders-${String(i).padStart(4, "0")}`);
    await createResources(server, ids, MAX_CAPACITY);
    return { ids, before: { confirmed: 0 } };
  },
  async measure({ server, connections, duration }, state) {
    /** @type {[string, number][]} */
    const kinds = [
      ["orders-single", 1],
      ["orders-2-items", 2],
      ["orders-3-items", 3],
    ];
    /** @type {any[]} */
    const rows = [];
    for (const [key, items] of kinds) {
      const load =
        items === 1
          ? reservePicked(server, state.ids, () => Math.floor(Math.random() * RESOURCES))
          : orderPicked(server, state.ids, items);
      const summary = await runLoad(server, { ...load, connections, duration });
      const after = await settledTotals(server, state.ids);
      // Each 201 order confirmed `items` places; checked as `items` reservations each.
      const perPlace = { ...summary, status: { ...summary.status, 201: (summary.status["201"] ?? 0) * items } };
      const checked = bookingChecks(perPlace, state.before, after, { unanswered: summary.unanswered * items });
      const held = after.held === 0;
      rows.push({
        key,
        connections,
        summary,
        checks: { ...checked.checks, nothing_held: held },
        info: { ...checked.info, items, items_per_s: Math.round(summary.rps * items) },
      });
      state.before = after;
    }
    const contended = await contention(server);
    const last = rows.at(-1);
    if (last) {
      last.checks.contention_10_of_100 = contended.ok;
      last.info.contention = contended;
    }
    return rows;
  },
};
