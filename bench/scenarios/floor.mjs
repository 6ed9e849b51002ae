// @ts-check
// The floor: what the platform costs before our code does anything.
//   health:   GET /health, a trivial JSON route that touches no binding.
//   noop-rpc: GET /__bench/noop-rpc, one no-op RPC to one Durable Object
//             (served only with BENCH_ROUTES=true): the hot path's ceiling.
import { readChecks } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

export const floor = {
  name: "floor",
  async measure({ server, connections, duration }) {
    const rows = [];
    for (const [key, path] of [
      ["health", "/health"],
      ["noop-rpc", "/__bench/noop-rpc"],
    ]) {
      const summary = await runLoad(server, { url: `${server.base}${path}`, connections, duration });
      rows.push({ key, connections, summary, ...readChecks(summary) });
    }
    return rows;
  },
};
