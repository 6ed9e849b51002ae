// @ts-check
// Probe: reservations spread over N resources (N from the arguments, e.g.
// `node bench/probe-spread.mjs 1 10 100 1000`), three 5 s runs each on one
// fresh `npm run serve`: how throughput falls as commits spread over more
// objects (bench/RESULTS.md, "Why spread stays under 0.8x hot").
import path from "node:path";
import { createResources, MAX_CAPACITY } from "./lib/api.mjs";
import { reservePicked } from "./lib/bookings.mjs";
import { runLoad } from "./lib/load.mjs";
import { startServer } from "./lib/server.mjs";
import { ROOT } from "./lib/util.mjs";

const sizes = process.argv.slice(2).map(Number);
const runDir = path.join(ROOT, ".wrangler", "probe", String(Date.now()));
const server = await startServer({
  mode: "serve",
  stateDir: path.join(runDir, "state"),
  logFile: path.join(runDir, "server.log"),
});
try {
  for (const n of sizes) {
    const ids = await createResources(
      server,
      Array.from({ length: n }, (_, i) => `p${n}-${i}`),
      MAX_CAPACITY,
    );
    for (const run of [1, 2, 3]) {
      const s = await runLoad(server, {
        ...reservePicked(server, ids, () => Math.floor(Math.random() * n)),
        connections: 100,
        duration: 5,
      });
      console.log(`n=${n} run ${run}: ${s.rps} req/s p50 ${s.p50_ms} p99 ${s.p99_ms}`);
    }
  }
} finally {
  await server.stop();
}
