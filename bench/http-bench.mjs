#!/usr/bin/env node
// `npm run bench:http`: HTTP benchmark of the Worker served by `wrangler dev`.
//
// Starts `npx wrangler dev` on 127.0.0.1 with a fresh persist dir under
// bench/.out/ and a random ADMIN_TOKEN passed through a temporary --env-file
// (with --env-file, wrangler does not read .dev.vars, and the repo's .dev.vars
// is never touched). Then drives it with autocannon:
//   health: GET /health (the trivial-route floor, touches no binding)
//   hot:    POST /reservations against one resource (one Durable Object),
//           followed by a consistency check against GET /resources/<id>.
// Prints one JSON line per scenario and a Markdown table, and writes the
// table and the environment to bench/RESULTS-http.md.
//
// Flags: --duration <s> (10)  --connections <n> (64)  --scenario all|health|hot (all)
//        --port <n> (8787, or a free port if taken)  --log-level <wrangler level> (warn)
//        --append (add a section to bench/RESULTS-http.md instead of replacing it)
//        --keep-state (keep the persist dir)
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";

const HOST = "127.0.0.1";
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "bench", ".out");
const RESULTS_FILE = path.join(ROOT, "bench", "RESULTS-http.md");
const HEALTH_TIMEOUT_MS = 60_000;
// CreateResourceBody caps capacity at 1_000_000 (src/http/schemas.ts); far more than a run can book.
const HOT_CAPACITY = 1_000_000;

// ---------------------------------------------------------------- arguments

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "64" },
    scenario: { type: "string", default: "all" },
    port: { type: "string" },
    "log-level": { type: "string", default: "warn" },
    append: { type: "boolean", default: false },
    "keep-state": { type: "boolean", default: false },
  },
});
const duration = positiveInt(args.duration, "--duration");
const connections = positiveInt(args.connections, "--connections");
if (!["all", "health", "hot"].includes(args.scenario)) fail(`--scenario must be all, health or hot`);
const scenarios = args.scenario === "all" ? ["health", "hot"] : [args.scenario];

function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

function fail(message) {
  console.error(`http-bench: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------- server lifecycle

const runId = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
const runDir = path.join(OUT_DIR, `run-${runId}`);
const persistDir = path.join(runDir, "state");
const envFile = path.join(runDir, "bench.env");
const logFile = path.join(OUT_DIR, `wrangler-${runId}.log`);
const token = `bench_${randomBytes(24).toString("base64url")}`;

let server = null; // { child, pgid, exited }
let activeLoad = null; // the running autocannon instance, stopped on a signal
let cleanupPromise = null;
let interrupted = false;

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

function ephemeralPort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function choosePort(requested, fallbackFrom) {
  if (requested !== undefined) {
    const port = positiveInt(requested, "--port");
    if (!(await portIsFree(port))) fail(`port ${port} is in use`);
    return port;
  }
  if (await portIsFree(fallbackFrom)) return fallbackFrom;
  return ephemeralPort();
}

function childEnv() {
  const env = {
    ...process.env,
    CI: "true", // no interactive prompts
    NO_COLOR: "1",
    WRANGLER_SEND_METRICS: "false",
    // No internet here: skip miniflare's fetch of the `Request.cf` object (the app does not read it).
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
  delete env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV; // must not be "false", or --env-file is ignored
  return env;
}

let log = null;

/**
 * Runs `npx <argv>` detached, in its own process group (pgid = pid), so npx,
 * wrangler and workerd go down together; output goes to the log file. It is
 * the current `server` until stopped, so a signal stops it whatever it is.
 */
function spawnGroup(argv) {
  log ??= createWriteStream(logFile);
  log.write(`\n$ npx ${argv.join(" ")}\n`);
  const child = spawn("npx", argv, { cwd: ROOT, env: childEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const group = { child, pgid: child.pid, exited: false, code: null, command: `npx ${argv.join(" ")}` };
  group.done = new Promise((resolve) => {
    child.on("exit", (code) => {
      group.exited = true;
      group.code = code;
      resolve(code);
    });
  });
  server = group;
  return group;
}

/** A fresh persist dir has an empty D1 database: apply the migrations to it, as `npm start` does. */
async function applyMigrations() {
  mkdirSync(persistDir, { recursive: true });
  const group = spawnGroup(["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir]);
  const code = await group.done;
  await stopServer(); // anything the group left behind
  if (code !== 0) throw new Error(`wrangler d1 migrations apply exited with ${code}; see ${logFile}`);
}

function startServer(port, inspectorPort) {
  writeFileSync(envFile, `ADMIN_TOKEN=${token}\n`, { mode: 0o600 });
  return spawnGroup([
    "wrangler",
    "dev",
    "--port",
    String(port),
    "--ip",
    HOST,
    "--inspector-port",
    String(inspectorPort),
    "--inspector-ip",
    HOST,
    "--persist-to",
    persistDir,
    "--env-file",
    envFile,
    "--log-level",
    args["log-level"],
    "--show-interactive-dev-session=false",
  ]);
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

async function stopServer() {
  if (!server) return;
  const { pgid } = server;
  signalGroup(pgid, "SIGTERM");
  for (let i = 0; i < 50 && groupAlive(pgid); i++) await sleep(100);
  if (groupAlive(pgid)) {
    console.error(`http-bench: wrangler group ${pgid} ignored SIGTERM for 5 s, sending SIGKILL`);
    signalGroup(pgid, "SIGKILL");
    for (let i = 0; i < 20 && groupAlive(pgid); i++) await sleep(100);
  }
  if (groupAlive(pgid)) console.error(`http-bench: process group ${pgid} is still alive`);
  server = null;
}

/** Idempotent: a signal and the normal path may both call it; both wait for the same work. */
function cleanup() {
  cleanupPromise ??= (async () => {
    await stopServer();
    rmSync(envFile, { force: true });
    if (!args["keep-state"]) rmSync(runDir, { recursive: true, force: true });
  })();
  return cleanupPromise;
}

// Last resort if the process exits without running cleanup (synchronous only).
process.on("exit", () => {
  if (server) signalGroup(server.pgid, "SIGKILL");
  rmSync(envFile, { force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\nhttp-bench: ${signal}, stopping`);
    interrupted = true;
    activeLoad?.stop();
    cleanup().finally(() => process.exit(128 + (os.constants.signals[signal] ?? 2)));
  });
}

async function waitForHealth(base) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exited) throw new Error(`wrangler exited before answering /health; see ${logFile}`);
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`GET /health did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s; see ${logFile}`);
}

// ---------------------------------------------------------------- load

function runLoad(opts) {
  const instance = autocannon({ connections, duration, pipelining: 1, timeout: 10, ...opts });
  activeLoad = instance;
  return Promise.resolve(instance).finally(() => {
    activeLoad = null;
  });
}

function statusCounts(result) {
  const counts = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) counts[code] = count;
  return counts;
}

function summarize(name, result, extra = {}) {
  const status = statusCounts(result);
  const responses = Object.values(status).reduce((a, b) => a + b, 0);
  return {
    scenario: name,
    connections,
    duration_s: duration,
    elapsed_s: result.duration,
    samples: result.samples,
    rps_mean: round(result.requests.mean),
    rps_median: round(result.requests.p50),
    rps_min: result.requests.min,
    rps_max: result.requests.max,
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    latency_max_ms: result.latency.max,
    responses,
    requests_sent: result.requests.sent,
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets,
    ...extra,
  };
}

function round(n) {
  return Math.round(n * 10) / 10;
}

async function scenarioHealth(base) {
  const result = await runLoad({ url: `${base}/health`, method: "GET" });
  const row = summarize("health", result);
  const no5xx = result["5xx"] === 0;
  const all200 = row.status["200"] === row.responses && result.errors === 0;
  return { ...row, ok: no5xx && all200, checks: { no_5xx: no5xx, all_200: all200 } };
}

async function scenarioHot(base) {
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const id = `bench-hot-${randomBytes(6).toString("hex")}`;
  const created = await fetch(`${base}/resources`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ id, type: "bench", capacity: HOT_CAPACITY }),
  });
  const createdBody = await created.text();
  if (created.status !== 201) throw new Error(`POST /resources answered ${created.status}: ${createdBody}`);

  const result = await runLoad({
    url: `${base}/reservations`,
    method: "POST",
    headers: auth,
    body: JSON.stringify({ resource_id: id, client_id: "bench", quantity: 1 }),
  });
  const row = summarize("hot", result);

  // autocannon does not drain: at the sample tick after the deadline it destroys
  // its sockets, so requests still in flight are never answered to it, though the
  // object may still decide them. Wait until the count stops moving, then compare.
  const state = await settledResource(base, id, auth);
  const n201 = row.status["201"] ?? 0;
  const unanswered = Math.max(0, row.requests_sent - row.responses - result.errors);
  const mismatch = state.confirmed - n201;
  const checks = {
    no_5xx: result["5xx"] === 0,
    confirmed_within_capacity: state.confirmed <= state.capacity,
    confirmed_equals_201: mismatch === 0,
    // The only legitimate difference: requests sent but cut off unanswered at the end.
    mismatch_explained_by_unanswered: mismatch >= 0 && mismatch <= unanswered,
  };
  const ok = checks.no_5xx && checks.confirmed_within_capacity && checks.mismatch_explained_by_unanswered;
  return {
    ...row,
    resource_id: id,
    capacity: state.capacity,
    confirmed: state.confirmed,
    held: state.held,
    remaining: state.remaining,
    created_201: n201,
    mismatch_confirmed_minus_201: mismatch,
    unanswered_at_stop: unanswered,
    ok,
    checks,
  };
}

async function settledResource(base, id, headers) {
  let last = null;
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/resources/${id}`, { headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET /resources/${id} answered ${res.status}: ${body}`);
    const state = JSON.parse(body);
    if (last && last.confirmed === state.confirmed && last.held === state.held) return state;
    last = state;
    await sleep(250);
  }
  return last;
}

// ---------------------------------------------------------------- source watch

/**
 * wrangler dev watches src/ and rebuilds on any change, so an edit made during
 * a run (by anyone working in the repo) changes the code under test and costs
 * CPU. A hash of src/ and wrangler.toml taken before and after each scenario
 * detects that; such a run is marked as failed.
 */
function sourceFingerprint() {
  const hash = createHash("sha256");
  const files = readdirSync(path.join(ROOT, "src"), { recursive: true })
    .map((f) => path.join("src", f))
    .filter((f) => statSync(path.join(ROOT, f)).isFile())
    .sort();
  for (const f of [...files, "wrangler.toml"]) {
    hash.update(`${f}\0`);
    hash.update(readFileSync(path.join(ROOT, f)));
  }
  return hash.digest("hex").slice(0, 16);
}

// ---------------------------------------------------------------- report

function versionOf(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8" });
  return (r.stdout || "").trim().split("\n").pop() || "unknown";
}

/** Read-only git queries: the commit and whether src/ or wrangler.toml differ from it. */
function gitDescription() {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (head.status !== 0) return "unknown";
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src", "wrangler.toml"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? " + uncommitted changes in src/ or wrangler.toml" : ""}`;
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}

function environment() {
  return {
    date: new Date().toISOString(),
    nproc: versionOf("nproc", []),
    total_memory_gib: round(os.totalmem() / 1024 ** 3),
    cpu: os.cpus()[0]?.model ?? "unknown",
    loadavg_1m_at_start: loadAtStart,
    node: process.version,
    wrangler: packageVersion("wrangler"),
    workerd: `${packageVersion("workerd")} (${versionOf(path.join(ROOT, "node_modules", ".bin", "workerd"), ["--version"])})`,
    autocannon: packageVersion("autocannon"),
    git: gitDescription(),
  };
}

const COLUMNS = [
  // [header, right-aligned?]
  ["scenario", false],
  ["connections", true],
  ["duration s", true],
  ["req/s mean", true],
  ["req/s median", true],
  ["latency p50 ms", true],
  ["latency p99 ms", true],
  ["responses", true],
  ["status codes", false],
  ["errors / timeouts", true],
  ["checks", false],
];

/** A Markdown table padded the way `biome check` formats Markdown, so `npm run lint` stays clean. */
function markdownTable(rows) {
  const body = rows.map((r) => {
    const codes = Object.entries(r.status)
      .map(([c, n]) => `${c}: ${n}`)
      .join(", ");
    let checks = r.ok ? "pass" : "FAIL";
    if (r.source_changed_during_run) checks += " (src/ changed during the run: wrangler dev reloaded)";
    if (r.scenario === "hot") {
      checks += ` (confirmed ${r.confirmed} / 201s ${r.created_201}, diff ${r.mismatch_confirmed_minus_201}, unanswered at stop ${r.unanswered_at_stop})`;
    }
    const cells = [r.scenario, r.connections, r.duration_s, r.rps_mean, r.rps_median, r.latency_p50_ms];
    cells.push(r.latency_p99_ms, r.responses, codes, `${r.errors} / ${r.timeouts}`, checks);
    return cells.map(String);
  });
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, 3, ...body.map((cells) => cells[i].length)));
  const line = (cells) => `| ${cells.join(" | ")} |`;
  const pad = (text, i) => (COLUMNS[i][1] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const rule = COLUMNS.map(([, right], i) => (right ? `${"-".repeat(widths[i] - 1)}:` : "-".repeat(widths[i])));
  return [line(COLUMNS.map(([h], i) => pad(h, i))), line(rule), ...body.map((cells) => line(cells.map(pad)))].join(
    "\n",
  );
}

function resultsSection(env, table, serverCommand, logErrors) {
  const cmd = `node bench/http-bench.mjs ${process.argv.slice(2).join(" ")}`.trim();
  return [
    `## HTTP benchmark, ${env.date}`,
    "",
    `- command: \`${cmd}\``,
    "- server mode: wrangler dev; load generator and server share the 2 cores",
    `- server command: \`${serverCommand.replace(token, "<random>")}\``,
    `- machine: nproc ${env.nproc}, ${env.total_memory_gib} GiB total memory, ${env.cpu}; 1-min load average at start ${env.loadavg_1m_at_start}`,
    `- Node ${env.node}, wrangler ${env.wrangler}, workerd ${env.workerd}, autocannon ${env.autocannon}`,
    `- code: git ${env.git}; src/ fingerprint ${sourceAtStart}`,
    "- req/s mean and median are over autocannon's one-second samples; latency over all responses",
    `- wrangler log: ${logErrors.length} error line(s)`,
    "",
    table,
    "",
  ].join("\n");
}

async function wranglerLogErrors() {
  const text = await readFile(logFile, "utf8").catch(() => "");
  return text.split("\n").filter((l) => /error|✘|uncaught|exception/i.test(l));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- main

const loadAtStart = round(os.loadavg()[0]);
const sourceAtStart = sourceFingerprint();

async function main() {
  mkdirSync(OUT_DIR, { recursive: true });
  const port = await choosePort(args.port, 8787);
  const inspectorPort = await ephemeralPort();
  const base = `http://${HOST}:${port}`;
  await applyMigrations();
  if (interrupted) throw new Error("interrupted");
  const { command } = startServer(port, inspectorPort);
  console.error(`http-bench: ${command.replace(token, "<random>")} (pgid ${server.pgid}, log ${logFile})`);
  const t0 = Date.now();
  await waitForHealth(base);
  console.error(`http-bench: /health answered 200 after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const rows = [];
  for (const name of scenarios) {
    console.error(`http-bench: ${name}: ${connections} connections for ${duration} s`);
    if (interrupted) throw new Error("interrupted");
    const measured = name === "health" ? await scenarioHealth(base) : await scenarioHot(base);
    const changed = sourceFingerprint() !== sourceAtStart;
    if (changed)
      console.error(`http-bench: src/ or wrangler.toml changed during the ${name} run; wrangler dev reloaded`);
    const row = { ...measured, source_changed_during_run: changed, ok: measured.ok && !changed };
    if (interrupted) throw new Error("interrupted");
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  await stopServer();
  await new Promise((resolve) => log.end(resolve));

  const logErrors = await wranglerLogErrors();
  if (logErrors.length > 0) {
    console.error(`http-bench: ${logErrors.length} error line(s) in ${logFile}, first ones:`);
    for (const l of logErrors.slice(0, 5)) console.error(`  ${l}`);
  }
  const table = markdownTable(rows);
  console.log(`\n${table}`);
  const section = resultsSection(environment(), table, command, logErrors);
  if (args.append) await appendFile(RESULTS_FILE, `\n${section}`);
  else writeFileSync(RESULTS_FILE, `# HTTP benchmark results\n\n${section}`);
  console.error(`http-bench: wrote ${path.relative(ROOT, RESULTS_FILE)}`);
  return rows.every((r) => r.ok) && logErrors.length === 0 ? 0 : 1;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  if (!interrupted) {
    console.error(`http-bench: ${error?.stack ?? error}`);
    console.error(`http-bench: wrangler log: ${logFile}`);
  }
} finally {
  await cleanup();
}
process.exit(interrupted ? 130 : exitCode);
