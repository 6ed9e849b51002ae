// @ts-check
// reads: public GET /availability?resource_id=… over 100 resources, no key:
// served from the KV snapshot, the object asked only on a miss.
import { createResources } from "../lib/api.mjs";
import { readChecks } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

const RESOURCES = 100;

/** autocannon request entry for availability reads of a random id in `ids`; counts X-Cache-Status. */
function availabilityRead(ids, cache) {
  const paths = ids.map((id) => `/availability?resource_id=${id}`);
  return {
    setupRequest: (request) => ({ ...request, method: "GET", path: paths[Math.floor(Math.random() * paths.length)] }),
    // autocannon hands headers over as the server spelled them.
    onResponse: (_status, _body, _context, headers) => {
      if (headers["X-Cache-Status"] === "HIT") cache.hit++;
      else cache.miss++;
    },
  };
}

export const reads = {
  name: "reads",
  async setup({ server }) {
    const ids = Array.from({ length: RESOURCES }, (_, i) => `read-${String(i).padStart(3, "0")}`);
    return { ids: await createResources(server, ids, 100) };
  },
  async measure({ server, connections, duration }, { ids }) {
    const cache = { hit: 0, miss: 0 };
    const url = `${server.base}/availability`;
    const summary = await runLoad(server, { url, requests: [availabilityRead(ids, cache)], connections, duration });
    const { checks, info } = readChecks(summary);
    const hitRate = Math.round((100 * cache.hit) / Math.max(1, cache.hit + cache.miss));
    return [{ key: "reads", connections, summary, checks, info: { ...info, kv_hit_pct: hitRate } }];
  },
};
