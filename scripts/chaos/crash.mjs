#!/usr/bin/env node
// @ts-check
// `npm run test:chaos`: crash safety with real processes (issue 7).
//
// Starts `wrangler dev` on fresh persisted local state, drives a hot resource
// and a spread of small ones with concurrent clients, and SIGKILLs the
// server's workerd processes at random moments (--kills times), restarting
// `wrangler dev` on the same port and state each time while the clients go
// on, retrying every request whose answer was lost with the same
// Idempotency-Key and body. Then it stops the load, lets the outbox drain to
// D1 and proves, from the client's own log and from the engine:
//   - every reservation that got a 201 exists, with the status last acknowledged;
//   - no resource ever exceeds its capacity, at any server_seq (timeline replay);
//   - every committed change reaches D1 history exactly once;
//   - a retry whose answer was lost returns the original outcome, never a second reservation;
//   - every order (2–5 items, placed alongside) ends all or nothing within the hold TTL plus a
//     minute, and each of its resources' places are exactly its confirmed orders' items.
// Exits non-zero on any violation. See docs/reliability.md.
//
// Flags: --kills <n> (10)  --clients <n> (16)  --min-gap <s> (3)  --max-gap <s> (8)
//        --spread <n> (20)  --hot-capacity <n> (300)  --spread-capacity <n> (20)
//        --order-clients <n> (4)  --order-resources <n> (6)
//        --seed <n> (random)  --keep (keep the temp dir: state, logs, client log)
//        --self-test (only check that the verifier catches fabricated faults)
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { mapLimit } from "../../bench/lib/util.mjs";
import { Admin, request } from "./api.mjs";
import { Load, prng } from "./load.mjs";
import { OrderLoad } from "./orders.mjs";
import { selfTest } from "./self-test.mjs";
import { buildBundle, DevServer, freePort, migrate, queryD1, sleep } from "./server.mjs";
import { historyCaughtUp, verify } from "./verify.mjs";

const TYPE = "chaos";
const HOLD_TTL_SECONDS = 30; // the API's minimum: some holds expire during the run
const DRAIN_TIMEOUT_MS = 120_000;

const { values: args } = parseArgs({
  options: {
    kills: { type: "string", default: "10" },
    clients: { type: "string", default: "16" },
    "min-gap": { type: "string", default: "3" },
    "max-gap": { type: "string", default: "8" },
    spread: { type: "string", default: "20" },
    "hot-capacity": { type: "string", default: "300" },
    "spread-capacity": { type: "string", default: "20" },
    "order-clients": { type: "string", default: "4" },
    "order-resources": { type: "string", default: "6" },
    seed: { type: "string" },
    keep: { type: "boolean", default: false },
    "self-test": { type: "boolean", default: false },
  },
});
const int = (name, min) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`chaos: --${name} must be an integer >= ${min}, got ${JSON.stringify(args[name])}`);
    process.exit(2);
  }
  return n;
};
const opts = {
  kills: int("kills", 0),
  clients: int("clients", 1),
  minGap: Number(args["min-gap"]),
  maxGap: Number(args["max-gap"]),
  spread: int("spread", 1),
  hotCapacity: int("hot-capacity", 1),
  spreadCapacity: int("spread-capacity", 1),
  orderClients: int("order-clients", 0),
  orderResources: int("order-resources", 5),
  seed: args.seed === undefined ? randomBytes(4).readUInt32BE() : int("seed", 0),
};
if (!(opts.minGap > 0 && opts.maxGap >= opts.minGap)) {
  console.error("chaos: need 0 < --min-gap <= --max-gap");
  process.exit(2);
}

const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const t0 = Date.now();

// The verifier is checked on fabricated faults first, every time: a pass below means something only if it can fail.
console.log("chaos: self-test of the verifier (fabricated faults must be caught)");
const st = selfTest({ quiet: !args["self-test"] });
if (st.failures.length > 0) {
  for (const f of st.failures) console.error(`  FAILED: ${f}`);
  process.exit(1);
}
console.log(
  `chaos: self-test passed (${st.cases} cases: 1 consistent history accepted, ${st.cases - 1} faults caught)`,
);
if (args["self-test"]) process.exit(0);

const tmp = mkdtempSync(path.join(os.tmpdir(), "reservation-chaos-"));
let server = /** @type {DevServer | null} */ (null);
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  server?.killNow();
  if (!args.keep) rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.error(`\nchaos: ${sig}: stopping wrangler dev (process group) and cleaning up`);
    cleanup();
    process.exit(130);
  });
}
process.on("exit", () => server?.killNow());

try {
  process.exitCode = await run();
} catch (err) {
  console.error(`chaos: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  if (server) await server.stop();
  if (args.keep) console.log(`chaos: kept ${tmp}`);
  cleanup();
}

async function run() {
  const random = prng(opts.seed);
  const gap = () => (opts.minGap + random() * (opts.maxGap - opts.minGap)) * 1000;
  const stateDir = path.join(tmp, "state");
  const logDir = path.join(tmp, "logs");
  mkdirSync(logDir, { recursive: true });
  const buildLog = path.join(logDir, "wrangler-setup.log");
  log(`temp dir ${tmp}; seed ${opts.seed}; ${opts.kills} kills, ${opts.clients} clients`);

  const script = await buildBundle(path.join(tmp, "bundle"), buildLog);
  await migrate(stateDir, buildLog);
  const adminToken = `chaos_${randomBytes(24).toString("base64url")}`;
  // --env-file instead of .dev.vars: the repository's own .dev.vars is neither read nor touched.
  const envFile = path.join(tmp, "chaos.env");
  writeFileSync(envFile, `ADMIN_TOKEN=${adminToken}\nRATE_LIMITS_ENABLED=false\n`, { mode: 0o600 });
  server = new DevServer({
    script,
    stateDir,
    envFile,
    logDir,
    port: await freePort(),
    inspectorPort: await freePort(),
  });
  const firstStart = await server.start();
  log(`wrangler dev up on ${server.base} in ${(firstStart / 1000).toFixed(1)} s (bundle, migrations done)`);

  // Setup: a client key for the load, a hot resource and a spread of small ones.
  const admin = new Admin(server.base, adminToken);
  const keyRes = await admin.post("/admin/api-keys", { name: "chaos load", role: "client" });
  if (keyRes.status !== 201) throw new Error(`POST /admin/api-keys answered ${keyRes.status}`);
  const hot = "hot";
  const spread = Array.from({ length: opts.spread }, (_, i) => `spread-${String(i).padStart(2, "0")}`);
  const orderResources = Array.from({ length: opts.orderResources }, (_, i) => `order-r${i}`);
  const withCapacity = [
    [hot, opts.hotCapacity],
    ...spread.map((s) => [s, opts.spreadCapacity]),
    ...orderResources.map((o) => [o, opts.spreadCapacity]),
  ];
  for (const [id, capacity] of withCapacity) {
    const res = await request(`${server.base}/resources`, {
      method: "POST",
      token: adminToken,
      body: { id, type: TYPE, capacity, hold_ttl_seconds: HOLD_TTL_SECONDS },
      headers: { "idempotency-key": `setup-${id}`, "x-request-id": `setup-${id}.1` },
    });
    if (res.lost || res.status !== 201) throw new Error(`POST /resources ${id}: ${res.error ?? res.status}`);
  }
  const resourceIds = [hot, ...spread, ...orderResources];
  log(`setup: ${hot} (capacity ${opts.hotCapacity}) and ${spread.length} × capacity ${opts.spreadCapacity}`);

  // Load, with the client log written as NDJSON beside the state for debugging.
  const clientLog = createWriteStream(path.join(tmp, "client-log.ndjson"));
  const load = new Load({
    server,
    token: keyRes.body.key,
    clients: opts.clients,
    hot,
    spread,
    random,
    onAttempt: (a) => clientLog.write(`${JSON.stringify(a)}\n`),
  });
  const orderLoad = new OrderLoad({
    server,
    token: keyRes.body.key,
    clients: opts.orderClients,
    resources: orderResources,
    random,
  });
  const loadStart = Date.now();
  load.start();
  orderLoad.start();

  // Chaos: SIGKILL at random moments, restart on the same port and state, go on.
  const kills = [];
  for (let k = 1; k <= opts.kills; k++) {
    await sleep(gap());
    const before = load.log.length;
    const inFlight = load.inFlight;
    const killedAt = Date.now();
    const pids = await server.crash();
    const restartMs = await server.start();
    kills.push({ at: killedAt - loadStart, inFlight, workerd: pids.length, restartMs });
    log(
      `kill ${k}/${opts.kills}: SIGKILL workerd ${pids.join(", ")} and group, ${inFlight} requests in flight, ` +
        `${before} attempts so far; restarted in ${(restartMs / 1000).toFixed(1)} s`,
    );
  }
  await sleep(gap()); // load on the last incarnation too, so its retries and new requests go through
  await Promise.all([load.stop(), orderLoad.stop()]);
  const loadMs = Date.now() - loadStart;
  await new Promise((resolve) => clientLog.end(resolve));
  log(`load stopped: ${load.log.length} attempts in ${(loadMs / 1000).toFixed(1)} s`);

  // Quiesce: let every acknowledged hold reach its expires_at, so nothing changes while we read.
  const lastExpiry = load.latestHeldExpiry();
  if (lastExpiry > Date.now()) {
    log(`waiting ${((lastExpiry - Date.now()) / 1000).toFixed(0)} s for the last holds to lapse`);
    await sleep(lastExpiry - Date.now() + 1500);
  }
  // Orders end by their own coordinators' alarms and their items' questions: wait for every one to settle.
  const ordersSettled = await orderLoad.settled(admin);
  log(`orders: ${ordersSettled.orders.length} heard of, ${ordersSettled.open} still open`);
  const resources = Object.fromEntries(await mapLimit(resourceIds, 8, async (id) => [id, await admin.resource(id)]));

  // The outboxes drain to the history queue, whose consumer writes D1. A crash loses what the local
  // queue held in memory: the reconciler re-sends it from the objects (decisions sent before a crash
  // that never reached D1), then we poll the D1 views until they match the timelines.
  const drainStart = Date.now();
  let ev;
  let repaired = 0;
  for (let round = 0; ; round++) {
    if (round % 5 === 0) {
      const runs = await admin.reconcile(resourceIds);
      const found = runs.reduce((n, r) => n + r.decisions_repaired, 0);
      repaired += found;
      log(`reconciliation: ${runs.reduce((n, r) => n + r.gaps_found, 0)} gaps found, ${found} decisions re-sent`);
    }
    const timelines = Object.fromEntries(await mapLimit(resourceIds, 4, async (id) => [id, await admin.timeline(id)]));
    const history = await readHistory(admin);
    ev = { attempts: load.log, timelines, resources, reservations: {}, history };
    if (historyCaughtUp(ev)) break;
    if (Date.now() - drainStart > DRAIN_TIMEOUT_MS) {
      log(`D1 history has not caught up after ${DRAIN_TIMEOUT_MS / 1000} s: verifying anyway`);
      break;
    }
    await sleep(1000);
  }
  const drainMs = Date.now() - drainStart;
  log(`outbox drained: D1 matches the timelines (${(drainMs / 1000).toFixed(1)} s, ${repaired} decisions repaired)`);

  // Every reservation the client was told about, read back from its object.
  const acked = [...new Set(load.log.filter((a) => a.op === "reserve" && a.status === 201).map((a) => a.response.id))];
  ev.reservations = Object.fromEntries(await mapLimit(acked, 16, async (id) => [id, await admin.reservation(id)]));
  // Nothing may have moved meanwhile: the objects still say what the replay will be compared to.
  const after = Object.fromEntries(await mapLimit(resourceIds, 8, async (id) => [id, await admin.resource(id)]));
  for (const id of resourceIds) {
    if (after[id].version !== resources[id].version) {
      throw new Error(`${id} changed while being verified (version ${resources[id].version} → ${after[id].version})`);
    }
  }

  await server.stop();
  // Row by row: D1's decision_events, read straight from the persisted database once the server is down.
  ev.history.d1Events = await queryD1(
    stateDir,
    "SELECT resource_id, seq, type, outcome, code, request_id, reservation_id, reservation_status FROM decision_events",
    buildLog,
    path.join(tmp, "decision-events.json"),
  );

  const { violations, stats } = verify(ev);
  const orderCheck = orderLoad.verify(ordersSettled.orders, resources);
  violations.push(...orderCheck.violations);
  stats.orders = orderCheck.stats.orders;
  const orderStatuses = orderCheck.stats.statuses;
  const totalMs = Date.now() - t0;
  const summary = {
    seed: opts.seed,
    options: opts,
    kills,
    loadMs,
    drainMs,
    historyRepaired: repaired,
    totalMs,
    stats,
    outcomes: outcomes(load.log),
    orderStatuses,
  };
  writeFileSync(path.join(tmp, "summary.json"), JSON.stringify({ ...summary, violations }, null, 2));
  report(summary, violations);
  return violations.length === 0 ? 0 : 1;
}

/** Every D1 view the verification compares with the timelines. */
async function readHistory(admin) {
  const [exportRows, listed, audit, analytics, metrics] = await Promise.all([
    admin.exportRows(),
    admin.listedResources(TYPE),
    admin.audit(),
    admin.analytics(TYPE),
    admin.metrics(),
  ]);
  return { exportRows, listed, audit, analytics, metrics, d1Events: /** @type {any[] | null} */ (null) };
}

/** Final answers by operation and status (code for a 409). */
function outcomes(attempts) {
  const out = {};
  const finals = new Map();
  for (const a of attempts) if (!a.lost && a.status < 500) finals.set(a.key, a);
  for (const a of finals.values()) {
    const k = `${a.op} ${a.status}${a.status === 409 ? ` ${a.response?.error?.code}` : ""}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function report(summary, violations) {
  const s = summary.stats;
  const restarts = summary.kills.map((k) => k.restartMs).sort((a, b) => a - b);
  const median = restarts.length ? restarts[Math.floor(restarts.length / 2)] : 0;
  const lines = [
    "",
    "Crash safety (real processes): summary",
    `  kills survived             ${summary.kills.length} (SIGKILL workerd + wrangler dev group; restart median ${(median / 1000).toFixed(1)} s, max ${((restarts.at(-1) ?? 0) / 1000).toFixed(1)} s)`,
    `  requests sent              ${s.attempts} attempts for ${s.logicalRequests} logical requests, ${(summary.loadMs / 1000).toFixed(0)} s of load, ${summary.options.clients} clients`,
    `  outcomes                   ${Object.entries(summary.outcomes)
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ")}`,
    `  lost, then retried         ${s.retriedRequests} requests (${s.lostAttempts} lost attempts): original had committed ${s.retriedOriginalCommitted} (replayed), had not ${s.retriedOriginalNotCommitted} (decided on retry)`,
    `  reservations checked       ${s.reservationsChecked} acknowledged (201), read back from their objects`,
    `  timeline rows replayed     ${s.timelineRows} (${s.replayedReservations} reservations)`,
    `  D1 rows checked            ${s.d1RowsChecked} (export, listing, audit, decision_events) + aggregates; outbox drained in ${(summary.drainMs / 1000).toFixed(1)} s, ${summary.historyRepaired} decisions repaired by the reconciler`,
    `  orders checked             ${s.orders}, all or nothing (${Object.entries(summary.orderStatuses ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ")})`,
    `  duplicates found           ${s.duplicates}`,
    `  violations                 ${violations.length}`,
    `  duration                   ${(summary.totalMs / 1000).toFixed(0)} s in all; seed ${summary.seed}; ${os.cpus().length} cores shared by load and server`,
  ];
  console.log(lines.join("\n"));
  if (violations.length > 0) {
    const byCheck = {};
    for (const v of violations) {
      byCheck[v.check] ??= [];
      byCheck[v.check].push(v.message);
    }
    for (const [check, messages] of Object.entries(byCheck)) {
      console.log(`\n  ${check}: ${messages.length} violation(s)`);
      for (const m of messages.slice(0, 15)) console.log(`    - ${m}`);
      if (messages.length > 15) console.log(`    … and ${messages.length - 15} more`);
    }
    console.log("\nFAIL");
  } else {
    console.log(
      "\nPASS: nothing acknowledged was lost, nothing overbooked, D1 exactly once, retries returned the original outcome",
    );
  }
}
