// @ts-check
// The server under test: `wrangler dev` with persisted local state, started
// in its own process group so that it, its esbuild helpers and its two
// workerd processes (the dev proxy on our port, and the Worker with its
// Durable Objects, KV, D1 and R2) are found and killed by our own PIDs only.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { liveGroupMembers, waitForHealth } from "../lib/processes.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const HOST = "127.0.0.1";
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const HEALTH_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Environment for wrangler: no prompts, no telemetry, no network lookups, our --env-file honoured. */
function wranglerEnv() {
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    CI: "true",
    NO_COLOR: "1",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
  delete env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV; // "false" would make wrangler ignore --env-file
  return env;
}

/**
 * Runs a wrangler command to completion, its output appended to `logFile`.
 * @param {string[]} argv
 * @param {string} logFile
 * @param {string} [stdoutFile] where stdout goes instead (e.g. a query's JSON)
 */
export async function runWrangler(argv, logFile, stdoutFile) {
  const log = openSync(logFile, "a");
  const out = stdoutFile ? openSync(stdoutFile, "w") : log;
  try {
    const child = spawn(WRANGLER, argv, { cwd: ROOT, env: wranglerEnv(), stdio: ["ignore", out, log] });
    const [code] = await once(child, "exit");
    if (code !== 0) throw new Error(`wrangler ${argv.slice(0, 3).join(" ")} exited with ${code} (see ${logFile})`);
  } finally {
    if (out !== log) closeSync(out);
    closeSync(log);
  }
}

/**
 * The Worker bundled once, as `wrangler deploy` would upload it. `wrangler dev`
 * then serves this file with --no-bundle: edits to src/ made by someone else
 * during the run neither reload the server nor change the code under test.
 */
export async function buildBundle(outdir, logFile) {
  await runWrangler(["deploy", "--dry-run", "--outdir", outdir, "--config", path.join(ROOT, "wrangler.toml")], logFile);
  return path.join(outdir, "index.js");
}

/** Applies the D1 migrations to the local database under `stateDir`, as `npm start` does. */
export async function migrate(stateDir, logFile) {
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], logFile);
}

/**
 * Runs one read query against the persisted D1 database while no server runs.
 * @returns {Promise<Record<string, unknown>[]>}
 */
export async function queryD1(stateDir, sql, logFile, outFile) {
  await runWrangler(
    ["d1", "execute", "DB", "--local", "--persist-to", stateDir, "--json", "--command", sql],
    logFile,
    outFile,
  );
  const parsed = JSON.parse(readFileSync(outFile, "utf8"));
  return parsed[0]?.results ?? [];
}

/** A free TCP port on HOST (closed again before use: good enough for a test run). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

function signal(target, name) {
  try {
    process.kill(target, name);
    return true;
  } catch {
    return false; // already gone
  }
}

/**
 * `wrangler dev` on a fixed port and state directory, restartable after a crash.
 *
 * How a crash is made: SIGKILL to every workerd process of the group (the
 * crash itself: no shutdown handler, no flush), then SIGKILL to the whole
 * group. The second step is needed because wrangler does not survive the
 * first one usefully: it restarts the Worker's workerd but not its dev proxy,
 * so the port stays dead. A crash therefore ends the whole `wrangler dev`,
 * and `start()` runs a new one on the same port and the same --persist-to.
 */
export class DevServer {
  /**
   * @param {{ script: string, stateDir: string, envFile: string, logDir: string, port: number, inspectorPort: number }} o
   */
  constructor(o) {
    Object.assign(this, o);
    // Declarations only (set by the assign above), for the type checker.
    /** @type {string} */ this.script;
    /** @type {string} */ this.stateDir;
    /** @type {string} */ this.envFile;
    /** @type {string} */ this.logDir;
    /** @type {number} */ this.port;
    /** @type {number} */ this.inspectorPort;
    this.base = `http://${HOST}:${o.port}`;
    this.incarnation = 0;
    /** @type {import("node:child_process").ChildProcess | null} */
    this.child = null;
    this.exited = true;
    this.upWaiters = [];
    this.isUp = false;
  }

  /** Resolves when the server answers (at once if it does). */
  whenUp() {
    if (this.isUp) return Promise.resolve();
    return new Promise((resolve) => this.upWaiters.push(resolve));
  }

  /** Starts wrangler dev and resolves once GET /health answers 200; returns how long that took (ms). */
  async start() {
    const started = Date.now();
    this.incarnation += 1;
    const logFile = path.join(this.logDir, `wrangler-dev-${String(this.incarnation).padStart(2, "0")}.log`);
    const log = openSync(logFile, "a");
    const argv = [
      "dev",
      this.script,
      "--no-bundle",
      "--config",
      path.join(ROOT, "wrangler.toml"),
      "--port",
      String(this.port),
      "--ip",
      HOST,
      "--inspector-port",
      String(this.inspectorPort),
      "--inspector-ip",
      HOST,
      "--persist-to",
      this.stateDir,
      "--env-file",
      this.envFile,
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
    ];
    const child = spawn(WRANGLER, argv, {
      cwd: ROOT,
      env: wranglerEnv(),
      detached: true, // its own process group: pgid = child.pid
      stdio: ["ignore", log, log], // straight to a file: a pipe we are too busy to read would stall it
    });
    closeSync(log);
    this.child = child;
    this.exited = false;
    child.on("exit", () => {
      if (this.child === child) this.exited = true;
    });
    await waitForHealth({
      base: this.base,
      exited: () => this.exited,
      what: `wrangler dev (see ${logFile})`,
      timeoutMs: HEALTH_TIMEOUT_MS,
      intervalMs: 100,
    });
    this.isUp = true;
    for (const resolve of this.upWaiters.splice(0)) resolve();
    return Date.now() - started;
  }

  /**
   * SIGKILL: workerd first, then everything else in the group; resolves when
   * none of the group is left. Returns the workerd PIDs killed.
   */
  async crash() {
    this.isUp = false;
    const pgid = this.child?.pid;
    if (!pgid) return [];
    const workerd = liveGroupMembers(pgid).filter((p) => p.comm === "workerd");
    for (const p of workerd) signal(p.pid, "SIGKILL");
    signal(-pgid, "SIGKILL");
    await this.waitGroupGone(pgid, 10_000);
    return workerd.map((p) => p.pid);
  }

  /** Stops the server for good: SIGTERM to the group, SIGKILL to whatever is left after a grace period. */
  async stop() {
    this.isUp = false;
    const pgid = this.child?.pid;
    if (!pgid) return;
    signal(-pgid, "SIGTERM");
    if (!(await this.waitGroupGone(pgid, STOP_GRACE_MS))) {
      signal(-pgid, "SIGKILL");
      await this.waitGroupGone(pgid, 5_000);
    }
    this.child = null;
  }

  /** Synchronous last resort (process exit handlers): SIGKILL to the group. */
  killNow() {
    if (this.child?.pid) signal(-this.child.pid, "SIGKILL");
  }

  async waitGroupGone(pgid, ms) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (liveGroupMembers(pgid).length === 0) return true;
      await sleep(50);
    }
    return liveGroupMembers(pgid).length === 0;
  }
}
