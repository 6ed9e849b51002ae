#!/usr/bin/env node
// @ts-check
// `npm run serve`: a production-like local server. It builds the bundle a
// deploy would upload (`wrangler deploy --dry-run`) and serves it with one
// workerd process through the Miniflare API: no bundler watching src/, no
// dev proxy in front, no inspector. Bindings come from wrangler.toml through
// wrangler's own translation, so they are never written twice.
//
// Flags: --port <n> (8787)  --persist-to <dir> (.wrangler/serve-state)
//        --bench-routes (BENCH_ROUTES=true: GET /__bench/noop-rpc)
//        --no-rate-limits (RATE_LIMITS_ENABLED=false, so that one load generator is not throttled)
//
// State is persisted in the same layout as `wrangler dev --persist-to <dir>`
// (<dir>/v3/...), and the D1 migrations are applied to it before serving, in
// the `d1_migrations` table that `wrangler d1 migrations apply` keeps.
//
// When started by `npm run bench` (with an IPC channel), it also serves a D1
// reader (see D1_READER), reports {type: "ready", url, token, d1ReaderUrl},
// and exits when its parent goes.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CONFIG = path.join(ROOT, "wrangler.toml");
const HOST = "127.0.0.1";
const MIGRATIONS_TABLE = "d1_migrations"; // wrangler's default name
const BREAKPOINT = "--> statement-breakpoint"; // drizzle-kit's statement separator

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    "persist-to": { type: "string", default: ".wrangler/serve-state" },
    "bench-routes": { type: "boolean", default: false },
    "no-rate-limits": { type: "boolean", default: false },
  },
});
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve: --port must be a port number, got ${JSON.stringify(args.port)}`);
  process.exit(2);
}
// wrangler resolves --persist-to against the working directory and keeps its data under v3/.
const persistRoot = path.join(path.resolve(args["persist-to"]), "v3");

/** The bundle `wrangler deploy` would upload, in a temporary directory: same build, same code. */
function buildBundle() {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "reservation-engine-bundle-"));
  const build = spawnSync(
    path.join(ROOT, "node_modules", ".bin", "wrangler"),
    ["deploy", "--dry-run", "--outdir", outdir, "--config", CONFIG],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  if (build.status !== 0) {
    rmSync(outdir, { recursive: true, force: true });
    throw new Error(`wrangler deploy --dry-run exited with ${build.status}`);
  }
  return outdir;
}

/** ADMIN_TOKEN from .dev.vars (as `wrangler dev` would use), else a fresh one for this run only. */
function adminToken() {
  const file = path.join(ROOT, ".dev.vars");
  const found = existsSync(file) && readFileSync(file, "utf8").match(/^ADMIN_TOKEN=(.+)$/m);
  if (found) return { token: found[1].trim(), source: ".dev.vars" };
  return { token: `serve_${randomBytes(24).toString("base64url")}`, source: "generated for this run" };
}

/**
 * Applies migrations/*.sql not yet listed in `d1_migrations`, each with its
 * bookkeeping row in one batch (one transaction), as wrangler does.
 */
async function applyMigrations(db, dir) {
  await db
    .prepare(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         name TEXT UNIQUE,
         applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`,
    )
    .run();
  const { results } = await db.prepare(`SELECT name FROM ${MIGRATIONS_TABLE}`).all();
  const applied = new Set(results.map((r) => r.name));
  const pending = readdirSync(dir)
    .filter((f) => f.endsWith(".sql") && !applied.has(f))
    .sort();
  for (const name of pending) {
    const statements = readFileSync(path.join(dir, name), "utf8")
      .split(BREAKPOINT)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => db.prepare(s));
    await db.batch([...statements, db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES (?)`).bind(name)]);
  }
  return pending;
}

const config = unstable_readConfig({ config: CONFIG });
const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
const database = config.d1_databases.find((d) => d.binding === "DB");
const migrationsDir = path.join(ROOT, database?.migrations_dir ?? "migrations");

// Migrate with a throwaway instance that serves nothing, so that no request
// can reach the Worker before its tables exist (wrangler does the same).
mkdirSync(persistRoot, { recursive: true });
const migrator = new Miniflare({
  modules: true,
  script: "export default {}",
  d1Databases: workerOptions.d1Databases,
  defaultPersistRoot: persistRoot,
});
/** @type {string[] | undefined} */
let applied;
try {
  applied = await applyMigrations(await migrator.getD1Database("DB"), migrationsDir);
} catch (error) {
  console.error(`serve: D1 migrations failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  await migrator.dispose();
}
if (process.exitCode) process.exit();

let bundleDir;
try {
  bundleDir = buildBundle();
} catch (error) {
  console.error(`serve: ${error.message}`);
  process.exit(1);
}

// Started by the benchmark (with an IPC channel), a second, internal Worker
// bound to the same D1 database answers its read queries on a socket of its
// own (127.0.0.1, a free port). Not `mf.getD1Database()`: Miniflare's proxy
// makes synchronous calls that block this thread, and workerd, writing the
// app's request log to this thread meanwhile, blocks too: a deadlock.
const D1_READER = {
  name: "bench-d1-reader",
  modules: true,
  script: `export default {
    async fetch(request, env) {
      const { sql, params } = await request.json();
      const { results } = await env.DB.prepare(sql).bind(...params).all();
      return Response.json(results);
    },
  };`,
  d1Databases: workerOptions.d1Databases,
  unsafeDirectSockets: [{ host: HOST, port: 0 }],
};

const { token, source } = adminToken();
const app = {
  ...workerOptions,
  name: config.name,
  modules: true,
  scriptPath: path.join(bundleDir, "index.js"),
  modulesRoot: bundleDir, // module names are relative to it, and the bundle lives outside the repo
  bindings: {
    ...workerOptions.bindings,
    ADMIN_TOKEN: token,
    BENCH_ROUTES: String(args["bench-routes"]),
    ...(args["no-rate-limits"] && { RATE_LIMITS_ENABLED: "false" }),
  },
};
const mf = new Miniflare({
  workers: process.send ? [app, D1_READER] : [app], // the first one serves HTTP
  host: HOST,
  port,
  defaultPersistRoot: persistRoot,
  cf: false, // no internet here: do not fetch the `Request.cf` template
  logRequests: false, // production does not log every request
  // GET /cdn-cgi/handler/scheduled runs the cron handler (reconcile, then export), as under `wrangler dev`.
  unsafeTriggerHandlers: true,
  log: new Log(LogLevel.WARN),
});

let stopping = null;
/** Stops workerd (mf.dispose() waits until it is gone), removes the bundle, exits. */
function shutdown(code) {
  stopping ??= mf
    .dispose()
    .catch((error) => console.error(`serve: dispose failed: ${error}`))
    .finally(() => {
      rmSync(bundleDir, { recursive: true, force: true });
      process.exit(code);
    });
  return stopping;
}
// Miniflare's exit hook (registered by its constructor) answers SIGINT and
// SIGTERM with an immediate process.exit(), before workerd is gone and the
// bundle removed: take the signals over so that shutdown() runs instead.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.removeAllListeners(signal);
  process.on(signal, () => shutdown(0));
}

let url;
try {
  url = (await mf.ready).toString().replace(/\/$/, "");
} catch (error) {
  console.error(`serve: workerd did not start: ${error?.message ?? error}`);
  await shutdown(1);
}

console.log(`serve: D1 migrations applied now: ${applied?.length ? applied.join(", ") : "none pending"}`);
console.log(
  `serve: state in ${persistRoot}; BENCH_ROUTES=${args["bench-routes"]}${args["no-rate-limits"] ? "; RATE_LIMITS_ENABLED=false" : ""}`,
);
console.log(`serve: ADMIN_TOKEN (${source}): ${token}`);
console.log(`serve: ready on ${url}  (try: curl ${url}/health; the hourly job: curl ${url}/cdn-cgi/handler/scheduled)`);

if (process.send) {
  const d1ReaderUrl = (await mf.unsafeGetDirectURL(D1_READER.name)).toString();
  process.on("disconnect", () => shutdown(0));
  process.send({ type: "ready", url, token, d1ReaderUrl });
}
