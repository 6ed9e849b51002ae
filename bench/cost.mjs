#!/usr/bin/env node
// @ts-check
// `npm run bench:cost`: what one reservation costs on Cloudflare, counted by
// the code itself. Starts `npm run serve` (fresh state, bench routes), runs
// reservations on one hot resource and spread over 1,000, waits until their
// history is in D1, reads the operations the Worker, its objects and its
// queue consumers made (GET /__bench/usage, src/lib/usage.ts), divides them
// by the reservations decided, prices them, prints a table and, last, one
// JSON line: {"scenario":"cost","hot":{…},"spread":{…}}.
//
// Flags: --duration <s> (10)  --connections <n> (100)
//
// Prices (US$, Workers Paid, beyond the included amounts), from
// developers.cloudflare.com pricing pages, read 2026-12-01:
//   Durable Objects  requests (RPC calls, alarm invocations) $0.15 / million
//                    SQLite rows written $1.00 / million (an alarm set or deleted is billed as a row written)
//   D1               rows written $1.00 / million; no charge per query
//   Workers KV       writes $5.00 / million
//   Queues           $0.40 / million operations (each 64 KB written, read or deleted)
//   outbound fetches no charge of their own
// Duration (GB-s) and Worker requests are left out: they are the same per request for any design here.
import path from "node:path";
import { parseArgs } from "node:util";
import { adminHeaders, createResources, MAX_CAPACITY } from "./lib/api.mjs";
import { reservePicked } from "./lib/bookings.mjs";
import { runLoad, waitForIdle } from "./lib/load.mjs";
import { startServer } from "./lib/server.mjs";
import { ROOT, sleep } from "./lib/util.mjs";

const PRICE_PER_MILLION = {
  do_requests: 0.15,
  do_rows_written: 1.0,
  alarms: 1.0,
  d1_requests: 0,
  d1_rows_written: 1.0,
  kv_writes: 5.0,
  queue_operations: 0.4,
  fetches: 0,
};

const { values: args } = parseArgs({
  options: { duration: { type: "string", default: "10" }, connections: { type: "string", default: "100" } },
});
const duration = Number(args.duration);
const connections = Number(args.connections);

/**
 * GET /__bench/usage: the operations counted since the last reset (and reset them).
 * @returns {Promise<Record<string, number>>}
 */
async function usage(server, reset) {
  const res = await fetch(`${server.base}/__bench/usage${reset ? "?reset=true" : ""}`, {
    headers: adminHeaders(server),
  });
  if (res.status !== 200) throw new Error(`GET /__bench/usage answered ${res.status}`);
  return /** @type {Promise<Record<string, number>>} */ (res.json());
}

/** Reservation decisions of `ids` in the history (D1). */
async function decisionsIn(server, ids) {
  const [row] = await server.d1(
    `SELECT COUNT(*) AS n FROM decision_events WHERE type = 'reservation.reserve' AND resource_id IN (SELECT value FROM json_each(?))`,
    [JSON.stringify(ids)],
  );
  return row.n;
}

/** Waits until the history holds every decision the objects made (their answers, plus any cut off). */
async function historyCaughtUp(server, ids, atLeast) {
  const start = Date.now();
  let last = -1;
  for (;;) {
    const n = await decisionsIn(server, ids);
    if (n >= atLeast && n === last) return { n, seconds: (Date.now() - start) / 1000 };
    if (Date.now() - start > 120_000) throw new Error(`history has ${n} of ${atLeast} decisions after 120 s`);
    last = n;
    await sleep(1000);
  }
}

async function scenario(server, name, ids, pick) {
  await waitForIdle(server);
  const before = await decisionsIn(server, ids);
  await usage(server, true);
  const summary = await runLoad(server, { ...reservePicked(server, ids, pick), connections, duration });
  const decided = (summary.status["201"] ?? 0) + (summary.status["409"] ?? 0);
  const history = await historyCaughtUp(server, ids, before + decided);
  await waitForIdle(server);
  await sleep(2000); // the last consumer batch and its counters
  const u = await usage(server, true);
  const n = history.n - before;
  const per = {
    do_requests: u.doRequests / n,
    do_rows_written: u.doRowsWritten / n,
    d1_requests: u.d1Requests / n,
    d1_rows_written: u.d1RowsWritten / n,
    kv_writes: u.kvWrites / n,
    queue_operations: u.queueOperations / n,
    alarms: u.alarms / n,
    fetches: u.fetches / n,
  };
  const usd = Object.entries(per).reduce((sum, [k, v]) => sum + v * PRICE_PER_MILLION[k], 0);
  return {
    name,
    reservations: n,
    answered: decided,
    req_per_s: Math.round(summary.rps),
    p99_ms: summary.p99_ms,
    history_caught_up_s: history.seconds,
    per_reservation: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
    usd_per_million: Math.round(usd * 100) / 100,
  };
}

/**
 * What a reservation on an evicted (cold) object costs next to a warm one:
 * `ids` are reserved one at a time after EVICT_WAIT_MS of silence (workerd
 * evicts an idle object after about 10 s, as production does), then once
 * more at once. Latency is the client's; operations are counted as above.
 */
const EVICT_WAIT_MS = 20_000;
async function coldScenario(server, ids) {
  const one = async (id) => {
    const start = performance.now();
    const res = await fetch(`${server.base}/reservations`, {
      method: "POST",
      headers: adminHeaders(server),
      body: JSON.stringify({ resource_id: id, client_id: "cold", quantity: 1 }),
    });
    await res.text();
    if (res.status !== 201) throw new Error(`cold reservation answered ${res.status}`);
    return performance.now() - start;
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
  const result = {};
  for (const phase of ["cold", "warm"]) {
    if (phase === "cold") await sleep(EVICT_WAIT_MS);
    await usage(server, true);
    const times = [];
    for (const id of ids) times.push(await one(id));
    await sleep(1500); // their drains
    const u = await usage(server, true);
    result[phase] = {
      median_ms: Math.round(median(times) * 10) / 10,
      p90_ms: Math.round(p90(times) * 10) / 10,
      do_rows_written: Math.round((u.doRowsWritten / ids.length) * 100) / 100,
      alarms: Math.round((u.alarms / ids.length) * 100) / 100,
      queue_operations: Math.round((u.queueOperations / ids.length) * 100) / 100,
    };
  }
  return result;
}

const runDir = path.join(ROOT, ".wrangler", "bench-cost", String(Date.now()));
const server = await startServer({
  mode: "serve",
  stateDir: path.join(runDir, "state"),
  logFile: path.join(runDir, "server.log"),
});
try {
  const hotIds = await createResources(server, ["cost-hot"], MAX_CAPACITY);
  const spreadIds = await createResources(
    server,
    Array.from({ length: 1000 }, (_, i) => `cost-spread-${String(i).padStart(4, "0")}`),
    MAX_CAPACITY,
  );
  const coldIds = await createResources(
    server,
    Array.from({ length: 200 }, (_, i) => `cost-cold-${String(i).padStart(3, "0")}`),
    MAX_CAPACITY,
  );
  const cold = await coldScenario(server, coldIds);
  const hot = await scenario(server, "hot", hotIds, () => 0);
  const spread = await scenario(server, "spread", spreadIds, () => Math.floor(Math.random() * spreadIds.length));
  const keys = Object.keys(PRICE_PER_MILLION);
  console.log(
    `\nper reservation (${connections} connections, ${duration} s each; 2 cores shared with the load generator)`,
  );
  console.log(["scenario", "reservations", "req/s", ...keys, "US$/million"].join("\t"));
  for (const s of [hot, spread]) {
    console.log(
      [s.name, s.reservations, s.req_per_s, ...keys.map((k) => s.per_reservation[k]), s.usd_per_million].join("\t"),
    );
  }
  console.log(
    `\none reservation at a time on 200 objects: evicted (cold) ${cold.cold.median_ms} ms median, ${cold.cold.p90_ms} ms p90; ` +
      `warm ${cold.warm.median_ms} ms median, ${cold.warm.p90_ms} ms p90; ` +
      `rows written cold/warm ${cold.cold.do_rows_written}/${cold.warm.do_rows_written}, alarms ${cold.cold.alarms}/${cold.warm.alarms}`,
  );
  const line = (s) => ({
    ...s.per_reservation,
    usd_per_million: s.usd_per_million,
    reservations: s.reservations,
    req_per_s: s.req_per_s,
  });
  console.log(JSON.stringify({ scenario: "cost", hot: line(hot), spread: line(spread), cold }));
} finally {
  await server.stop();
}
