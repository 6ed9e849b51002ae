// @ts-check
// The Worker for the browser check: `scripts/serve.mjs` (the deploy bundle in
// one workerd, through the Miniflare API) on 127.0.0.1, a port the system
// picks, fresh state in a temporary directory. It runs in its own process
// group and is stopped by its own PID: other workerd processes on this
// machine (other people's tests and servers) are never touched.
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const READY_TIMEOUT_MS = 120_000; // the bundle is built first (wrangler deploy --dry-run)
const STOP_GRACE_MS = 10_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/**
 * @typedef {object} DocsServer
 * @property {number} pid
 * @property {string} base
 * @property {string} token
 * @property {() => string} logText
 * @property {() => Promise<void>} stop
 */

/**
 * Starts the server and resolves once it is ready with { base, token, pid,
 * logText(), stop() }; stop() is safe to call twice. `onSpawn` gets the same
 * object at once: the caller stops it, also when the start fails or is
 * interrupted (and can show its output first).
 * @param {{ onSpawn?: (server: DocsServer) => void }} [options]
 * @returns {Promise<DocsServer>}
 */
export async function startServer({ onSpawn = () => {} } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "docs-check-server-"));
  const logFile = path.join(dir, "server.log");
  const log = openSync(logFile, "a");
  // With an IPC channel serve.mjs reports {type: "ready", url, token}, and it
  // exits by itself if this process dies without stopping it.
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "scripts", "serve.mjs"), "--port", "0", "--persist-to", path.join(dir, "state")],
    {
      cwd: ROOT,
      detached: true, // leads its own process group, workerd included
      stdio: ["ignore", log, log, "ipc"],
      env: { ...process.env, CI: "true", NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" },
    },
  );
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });

  let stopping = null;
  /** @type {DocsServer} */
  const server = {
    pid: /** @type {number} */ (child.pid),
    base: "",
    token: "",
    /** The server's output, without the line that shows the admin key. */
    logText: () => {
      try {
        return readFileSync(logFile, "utf8").replace(/^.*ADMIN_TOKEN.*$/gm, "[admin key line omitted]");
      } catch {
        return "";
      }
    },
    stop: () => {
      stopping ??= (async () => {
        // SIGTERM to the leader only: serve.mjs disposes its workerd itself.
        if (!exited) signal(child.pid, "SIGTERM");
        const deadline = Date.now() + STOP_GRACE_MS;
        while (groupAlive(child.pid) && Date.now() < deadline) await sleep(100);
        if (groupAlive(child.pid)) {
          console.error(`docs-check: server group ${child.pid} still running after SIGTERM: SIGKILL`);
          signal(-(/** @type {number} */ (child.pid)), "SIGKILL");
          while (groupAlive(child.pid)) await sleep(100);
        }
        closeSync(log);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  onSpawn(server);

  let timer;
  try {
    const ready = await new Promise((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`scripts/serve.mjs was not ready within ${READY_TIMEOUT_MS / 1000} s`)),
        READY_TIMEOUT_MS,
      );
      child.once("message", resolve);
      child.once("exit", (code, sig) =>
        reject(new Error(`scripts/serve.mjs exited (${code ?? sig}) before it was ready`)),
      );
    });
    if (ready?.type !== "ready") throw new Error(`unexpected first message from serve.mjs: ${JSON.stringify(ready)}`);
    server.base = ready.url;
    server.token = ready.token;
    return server;
  } finally {
    clearTimeout(timer);
  }
}

/** `target` is a PID, or minus a process group id. */
function signal(target, name) {
  try {
    process.kill(target, name);
  } catch {
    // already gone
  }
}
