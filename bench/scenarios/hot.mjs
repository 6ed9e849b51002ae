// @ts-check
// hot: every request books one place on the same resource, so one Durable
// Object decides them all in sequence: the engine's worst case.
import { createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reserveOne } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

/** Always 64 (the old benchmark's figure) and the run's --connections (100 by default). */
function hotConnections(connections) {
  return [...new Set([64, connections])];
}

export const hot = {
  name: "hot",
  async measure({ server, connections, duration, run }) {
    const rows = [];
    for (const c of hotConnections(connections)) {
      const [id] = await createResources(server, [`hot-${run}-${c}`], MAX_CAPACITY);
      const summary = await runLoad(server, { ...reserveOne(server, id), connections: c, duration });
      const after = await settledTotals(server, [id]);
      rows.push({ key: `hot@${c}`, connections: c, summary, ...bookingChecks(summary, { confirmed: 0 }, after) });
    }
    return rows;
  },
};
