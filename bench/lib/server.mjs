// @ts-check
// The server under test, in one of two modes, each in its own process group
// so that it and its workerd child are stopped together by our own PIDs:
//   serve:        `node scripts/serve.mjs` (the deploy bundle in one workerd),
//                 with an IPC channel: it reports its URL, its token and the
//                 URL of a D1 reader Worker in the same workerd.
//   wrangler-dev: `wrangler dev` on a fresh --persist-to, as `npm start` runs it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { liveGroupMembers, waitForHealth } from "../../scripts/lib/processes.mjs";
import { HOST, ROOT, sleep } from "./util.mjs";

const HEALTH_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;

/**
 * Starts the server and resolves once GET /health answers 200.
 * Returns { mode, base, token, pid, d1(sql, params) (serve mode only), stop() }.
 */
export async function startServer({ mode, stateDir, logFile }) {
  mkdirSync(stateDir, { recursive: true });
  // The server's output goes straight to a file, not through a pipe to this
  // process: with the app logging every request, a pipe read by a process
  // busy generating load fills up and stalls the server (seconds-long p99s).
  const log = openSync(logFile, "a");
  const server = mode === "serve" ? await startServe(stateDir, log) : await startWranglerDev(stateDir, log);
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    closeSync(log);
  };
  try {
    await waitForHealth({
      base: server.base,
      exited: () => server.exited,
      what: `the ${server.mode} server`,
      timeoutMs: HEALTH_TIMEOUT_MS,
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** @returns {NodeJS.ProcessEnv} */
function childEnv() {
  return {
    ...process.env,
    CI: "true", // no interactive prompts
    NO_COLOR: "1",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false", // no internet here; the app does not read `request.cf`
  };
}

/** Starts a child that leads its own process group, its output appended to the file `log` (a descriptor). */
function spawnLogged(command, argv, log, options = {}) {
  return spawn(command, argv.map(String), {
    cwd: ROOT,
    env: childEnv(),
    detached: true,
    stdio: ["ignore", log, log],
    ...options,
  });
}

/**
 * Exit tracking and a stop that escalates: SIGTERM to the leader only (serve
 * disposes its workerd itself) or to the whole group (wrangler dev's tree,
 * as `npm start` does), then SIGKILL to whatever is left in the group.
 */
function managed(child, extra, { termGroup }) {
  const server = { pid: child.pid, exited: false, ...extra };
  child.on("exit", (code, signal) => {
    server.exited = true;
    server.exitCode = code ?? signal;
  });
  server.stop = async () => {
    if (!server.exited) sendSignal(termGroup ? -child.pid : child.pid, "SIGTERM");
    // The leader's exit is not enough: wait for its whole group (workerd included).
    const deadline = Date.now() + STOP_GRACE_MS;
    while (liveGroupMembers(child.pid).length > 0 && Date.now() < deadline) await sleep(100);
    const left = liveGroupMembers(child.pid);
    if (left.length > 0) {
      const names = left.map((p) => `${p.pid} ${p.comm}`).join(", ");
      console.error(
        `bench: still running ${STOP_GRACE_MS / 1000} s after SIGTERM (${names}): SIGKILL to group ${child.pid}`,
      );
      sendSignal(-child.pid, "SIGKILL");
    }
  };
  return server;
}

async function startServe(stateDir, log) {
  const serve = path.join(ROOT, "scripts", "serve.mjs");
  const child = spawnLogged(
    process.execPath,
    [serve, "--port", "0", "--persist-to", stateDir, "--bench-routes", "--no-rate-limits"],
    log,
    {
      stdio: ["ignore", log, log, "ipc"],
    },
  );
  const server = managed(child, { mode: "serve" }, { termGroup: false });
  const [ready] = await Promise.race([
    once(child, "message"),
    once(child, "exit").then(() => Promise.reject(new Error("scripts/serve.mjs exited before it was ready"))),
  ]);
  if (ready.type !== "ready") throw new Error(`unexpected first message from serve.mjs: ${JSON.stringify(ready)}`);
  return Object.assign(server, { base: ready.url, token: ready.token, d1: d1Reader(ready.d1ReaderUrl) });
}

/** `d1(sql, params)`: a read query against the served D1 database, by serve.mjs's internal reader Worker. */
function d1Reader(url) {
  return async (sql, params = []) => {
    const res = await fetch(url, { method: "POST", body: JSON.stringify({ sql, params }) });
    if (!res.ok) throw new Error(`D1 reader answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
}

async function startWranglerDev(stateDir, log) {
  const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
  // A fresh persist dir has an empty D1 database: migrate it first, as `npm start` does.
  const migrate = spawnLogged(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], log);
  const [code] = await once(migrate, "exit");
  if (code !== 0) throw new Error(`wrangler d1 migrations apply exited with ${code}`);

  // With --env-file wrangler does not read .dev.vars: the repo's file is neither used nor touched.
  const token = `bench_${randomBytes(24).toString("base64url")}`;
  const envFile = path.join(stateDir, "bench.env");
  writeFileSync(envFile, `ADMIN_TOKEN=${token}\nBENCH_ROUTES=true\nRATE_LIMITS_ENABLED=false\n`, { mode: 0o600 });
  const env = childEnv();
  delete env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV; // must not be "false", or --env-file is ignored
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const argv = ["dev", "--port", port, "--ip", HOST, "--inspector-port", inspectorPort, "--inspector-ip", HOST];
  argv.push("--persist-to", stateDir, "--env-file", envFile, "--log-level", "warn");
  argv.push("--show-interactive-dev-session=false");
  const child = spawnLogged(wrangler, argv, log, { env });
  const extra = { mode: "wrangler-dev", base: `http://${HOST}:${port}`, token, d1: null };
  return managed(child, extra, { termGroup: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/** `target` is a PID, or minus a process group id. */
function sendSignal(target, signal) {
  try {
    process.kill(target, signal);
  } catch {
    // the group is already gone
  }
}
