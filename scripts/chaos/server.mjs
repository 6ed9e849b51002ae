// The server under test: `wrangler dev` with persisted local state, started
// in its own process group so that it, its esbuild helpers and its two
// workerd processes (the dev proxy on our port, and the Worker with its
// Durable Objects, KV, D1 and R2) are found and killed by our own PIDs only.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const HOST = "127.0.0.1";
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const HEALTH_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Environment for wrangler: no prompts, no telemetry, no network lookups, our --env-file honoured. */
function wranglerEnv() {
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
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Every process as { pid, ppid, pgid, comm, state }, from /proc (Linux). */
export function processes() {
  const list = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const [state, ppid, pgid] = stat.slice(close + 2).split(" ");
      list.push({
        pid: Number(entry),
        ppid: +ppid,
        pgid: +pgid,
        comm: stat.slice(stat.indexOf("(") + 1, close),
        state,
      });
    } catch {
      // the process ended while we looked
    }
  }
  return list;
}

/** Live (not zombie) members of process group `pgid`. */
function liveGroup(pgid) {
  return processes().filter((p) => p.pgid === pgid && p.state !== "Z");
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
    await this.waitForHealth(logFile);
    this.isUp = true;
    for (const resolve of this.upWaiters.splice(0)) resolve();
    return Date.now() - started;
  }

  async waitForHealth(logFile) {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`wrangler dev exited before answering /health (see ${logFile})`);
      try {
        const res = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`GET /health did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s (see ${logFile})`);
  }

  /**
   * SIGKILL: workerd first, then everything else in the group; resolves when
   * none of the group is left. Returns the workerd PIDs killed.
   */
  async crash() {
    this.isUp = false;
    const pgid = this.child?.pid;
    if (!pgid) return [];
    const workerd = liveGroup(pgid).filter((p) => p.comm === "workerd");
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
      if (liveGroup(pgid).length === 0) return true;
      await sleep(50);
    }
    return liveGroup(pgid).length === 0;
  }
}
