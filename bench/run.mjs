#!/usr/bin/env node
// @ts-check
// `npm run bench`: HTTP benchmarks of the engine with correctness checks.
//
// Starts the server on fresh state under bench/.out/ (git-ignored), waits for
// GET /health, runs the scenarios (bench/scenarios/) with autocannon, stops
// the server by its PID, then runs the in-process benchmark. Prints one JSON
// line per measurement and Markdown tables, and writes this kind of run's
// section of bench/RESULTS.md.
//
// Flags: --scenario all|<name,...> (all)  --duration <s> (10)  --connections <n> (100)
//        --runs <n> (3, medians reported)  --mode serve|wrangler-dev (serve)
//        --memory (add the 60 s memory scenario)  --keep-state  --no-write
//        --state-root <dir> (bench/.out): where the fresh state goes. On this VM, syncs to
//          the disk sometimes take seconds and stall workerd; /dev/shm (memory) avoids that.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { stopLoad } from "./lib/load.mjs";
import { watchNeighbours } from "./lib/proc.mjs";
import { aggregate, environment, figuresTable, section, targets, targetsTable, writeSection } from "./lib/report.mjs";
import { startServer } from "./lib/server.mjs";
import { ROOT } from "./lib/util.mjs";
import { stopInProcess } from "./scenarios/in-process.mjs";
import { selectScenarios } from "./scenarios/index.mjs";

const OUT_DIR = path.join(ROOT, "bench", ".out");
const RESULTS = path.join(ROOT, "bench", "RESULTS.md");

function log(message) {
  console.error(`bench: ${message}`);
}

function fail(message) {
  log(message);
  process.exit(2);
}

function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

const { values: args } = parseArgs({
  options: {
    scenario: { type: "string", default: "all" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "100" },
    runs: { type: "string", default: "3" },
    mode: { type: "string", default: "serve" },
    memory: { type: "boolean", default: false },
    "keep-state": { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    "state-root": { type: "string", default: OUT_DIR },
  },
});
if (!["serve", "wrangler-dev"].includes(args.mode)) fail("--mode must be serve or wrangler-dev");
const options = {
  mode: args.mode,
  duration: positiveInt(args.duration, "--duration"),
  connections: positiveInt(args.connections, "--connections"),
  runs: positiveInt(args.runs, "--runs"),
};
let scenarios;
try {
  scenarios = selectScenarios(args.scenario, args.memory);
} catch (error) {
  fail(error.message);
}

const runId = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
const runDir = path.join(path.resolve(args["state-root"]), `run-${runId}`);
const logFile = path.join(OUT_DIR, `server-${runId}.log`);
let server = null;
let interrupted = false;

/** Stops the server and removes its state (kept with --keep-state) and, unless a check failed, its log. */
async function cleanup({ keepLog = true } = {}) {
  const running = server;
  server = null;
  await running?.stop();
  if (!args["keep-state"]) rmSync(runDir, { recursive: true, force: true });
  if (!keepLog && !args["keep-state"]) rmSync(logFile, { force: true });
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping`);
    stopLoad();
    stopInProcess();
    cleanup().finally(() => process.exit(130));
  });
}

/**
 * Sets a scenario up (once per bench run: `states` keeps the promise, so a
 * failed setup is reported again, not retried) and measures it, turning a
 * crash into a failed row so that the other scenarios still run.
 */
async function measured(scenario, ctx, states) {
  try {
    if (!states.has(scenario)) states.set(scenario, Promise.resolve(scenario.setup?.(ctx)));
    return await scenario.measure(ctx, await states.get(scenario));
  } catch (error) {
    if (interrupted) throw error;
    log(`${scenario.name} failed: ${error?.stack ?? error}`);
    return [{ key: scenario.name, checks: { completed: false }, error: String(error?.message ?? error) }];
  }
}

function progress(row, run) {
  const s = row.summary;
  const failed = Object.entries(row.checks).filter(([, ok]) => !ok);
  const waited = s?.idle_wait_s > 1 ? ` (after ${s.idle_wait_s} s waiting for the server to go idle)` : "";
  const figures = s ? `${s.rps} req/s, p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms${waited}, ` : "";
  log(
    `  run ${run} ${row.key}: ${figures}${failed.length ? `FAILED ${failed.map(([c]) => c).join(", ")}` : "checks pass"}`,
  );
}

async function main() {
  mkdirSync(OUT_DIR, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const env = environment();
  const neighbours = watchNeighbours();
  const rows = [];
  const remarks = [
    `server state in ${path.dirname(runDir) === OUT_DIR ? "bench/.out/ (on disk)" : path.dirname(runDir)}`,
  ];
  const http = scenarios.filter((s) => s.needsServer !== false);
  const skipped = http.filter((s) => s.modes && !s.modes.includes(options.mode));
  for (const s of skipped) {
    remarks.push(`${s.name} skipped: it needs --mode ${s.modes.join(" or ")}`);
    log(remarks.at(-1));
  }

  if (http.length > skipped.length) {
    log(`starting the ${options.mode} server (log: ${path.relative(ROOT, logFile)})`);
    server = await startServer({ mode: options.mode, stateDir: path.join(runDir, "state"), logFile });
    log(`server PID ${server.pid} at ${server.base}`);
    const states = new Map();
    for (let run = 1; run <= options.runs; run++) {
      for (const scenario of http) {
        if (skipped.includes(scenario) || (scenario.once && run > 1) || interrupted) continue;
        log(`run ${run}/${options.runs}: ${scenario.name}`);
        for (const row of await measured(scenario, { ...options, server, run, log }, states)) {
          rows.push(row);
          progress(row, run);
        }
      }
    }
    await cleanup();
  }
  for (const scenario of scenarios.filter((s) => s.needsServer === false)) {
    if (interrupted) break;
    log(`${scenario.name}`);
    for (const row of await measured(scenario, { ...options, log }, new Map())) {
      rows.push(row);
      progress(row, 1);
    }
  }

  const seen = neighbours.stop();
  if (seen.busy > 0) {
    remarks.push(
      `other workerd processes (not this run's: another session's tests or server) were running in ${seen.busy} of ${seen.samples} samples taken every 2 s (up to ${seen.max} at once): figures from those moments are depressed`,
    );
    log(remarks.at(-1));
  }
  const aggregated = aggregate(rows);
  for (const a of aggregated) console.log(JSON.stringify({ mode: options.mode, ...a }));
  const targetList = targets(aggregated, options.connections);
  console.log(`\n${figuresTable(aggregated)}\n`);
  if (targetList.length > 0) console.log(`${targetsTable(targetList)}\n`);

  if (!args["no-write"]) {
    const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
    // One section per kind of run: mode, where the state lives (when not the default) and scenarios.
    const root = path.resolve(args["state-root"]);
    const where = root === OUT_DIR ? "" : `, state in ${root}`;
    const key = `${options.mode}${where.replace(", state in ", "@")}:${scenarios.map((s) => s.name).join(",")}`;
    const title = `${options.mode}${where}: ${scenarios.map((s) => s.name).join(", ")}`;
    writeSection(RESULTS, key, title, section({ command, mode: options.mode, env, aggregated, targetList, remarks }));
    log(`wrote ${path.relative(ROOT, RESULTS)} (section ${key})`);
  }
  const ok = aggregated.every((a) => a.ok);
  if (!ok) log(`a check failed: the server log is kept in ${path.relative(ROOT, logFile)}`);
  return ok ? 0 : 1;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  if (!interrupted) log(error?.stack ?? String(error));
} finally {
  await cleanup({ keepLog: exitCode !== 0 });
}
if (!interrupted) process.exit(exitCode);
