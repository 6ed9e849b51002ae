// @ts-check
// Probe: the no-op RPC on 1 object, then spread over 1,000 (cold, then warm),
// twice: workerd's own cost of spreading over objects, before any storage
// (bench/RESULTS.md). Temporarily making ping() write one row gives the
// per-object commit floor quoted there.
import path from "node:path";
import { adminHeaders } from "./lib/api.mjs";
import { runLoad } from "./lib/load.mjs";
import { startServer } from "./lib/server.mjs";
import { ROOT } from "./lib/util.mjs";

const runDir = path.join(ROOT, ".wrangler", "probe", String(Date.now()));
const server = await startServer({
  mode: "serve",
  stateDir: path.join(runDir, "state"),
  logFile: path.join(runDir, "server.log"),
});
try {
  for (const n of [1, 1000, 1, 1000]) {
    const s = await runLoad(server, {
      method: "GET",
      url: `${server.base}/__bench/noop-rpc`,
      headers: adminHeaders(server),
      requests: [{ setupRequest: (r) => ({ ...r, path: `/__bench/noop-rpc?shard=${Math.floor(Math.random() * n)}` }) }],
      connections: 100,
      duration: 5,
    });
    console.log(`noop n=${n}: ${s.rps} req/s p50 ${s.p50_ms} p99 ${s.p99_ms}`);
  }
} finally {
  await server.stop();
}
