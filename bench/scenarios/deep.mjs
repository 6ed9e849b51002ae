// @ts-check
// deep: commits on a resource that already holds 100,000 reservations, next
// to an empty one in the same run: a commit must not slow down as the
// object's tables grow.
import { createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reserveOne } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

const PREFILL = 100_000;
const PREFILL_CONNECTIONS = 128;

export const deep = {
  name: "deep",
  async setup({ server, log }) {
    const [id] = await createResources(server, ["deep"], MAX_CAPACITY);
    log(`deep: pre-filling ${PREFILL} reservations over HTTP`);
    // Requests lost to a socket error are topped up, so that the object holds exactly PREFILL.
    let before = { confirmed: 0 };
    for (let round = 0; round < 5 && before.confirmed < PREFILL; round++) {
      const amount = PREFILL - before.confirmed;
      const connections = Math.min(PREFILL_CONNECTIONS, amount); // autocannon needs amount >= connections
      const fill = await runLoad(server, { ...reserveOne(server, id), connections, amount });
      before = await settledTotals(server, [id]);
      log(`deep: pre-filled ${before.confirmed} at ${fill.rps} req/s`);
    }
    if (before.confirmed !== PREFILL) throw new Error(`deep: pre-fill holds ${before.confirmed}, not ${PREFILL}`);
    return { id, before };
  },
  async measure({ server, connections, duration, run }, state) {
    const rows = [];
    const [empty] = await createResources(server, [`deep-empty-${run}`], MAX_CAPACITY);
    for (const [key, id, before] of [
      ["deep-100k", state.id, state.before],
      ["deep-empty", empty, { confirmed: 0 }],
    ]) {
      const summary = await runLoad(server, { ...reserveOne(server, id), connections, duration });
      const after = await settledTotals(server, [id]);
      rows.push({ key, connections, summary, ...bookingChecks(summary, before, after) });
      if (id === state.id) state.before = after;
    }
    return rows;
  },
};
