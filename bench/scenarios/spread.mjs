// @ts-check
// spread: the same reservations spread over 1,000 resources (1,000 Durable
// Objects), the resource drawn per request uniformly or by a Zipf law
// (s = 1.1: a few popular resources take most of the load, as in real sales).
import { createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reservePicked } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

const RESOURCES = 1000;
const ZIPF_S = 1.1;

/** Draws ranks 0..n-1 with P(k) proportional to 1 / (k + 1)^s, by binary search in the cumulative weights. */
function zipf(n, s) {
  const cumulative = [];
  let total = 0;
  for (let k = 1; k <= n; k++) {
    total += 1 / k ** s;
    cumulative.push(total);
  }
  return () => {
    const u = Math.random() * total;
    let [lo, hi] = [0, n - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export const spread = {
  name: "spread",
  async setup({ server }) {
    const ids = Array.from({ length: RESOURCES }, (_, i) => `spread-${String(i).padStart(4, "0")}`);
    await createResources(server, ids, MAX_CAPACITY);
    return { ids, before: { confirmed: 0 } };
  },
  async measure({ server, connections, duration }, state) {
    const rows = [];
    for (const [key, pick] of [
      ["spread-uniform", () => Math.floor(Math.random() * RESOURCES)],
      ["spread-zipf", zipf(RESOURCES, ZIPF_S)],
    ]) {
      const summary = await runLoad(server, { ...reservePicked(server, state.ids, pick), connections, duration });
      const after = await settledTotals(server, state.ids);
      rows.push({ key, connections, summary, ...bookingChecks(summary, state.before, after) });
      state.before = after;
    }
    return rows;
  },
};
