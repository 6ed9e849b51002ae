#!/usr/bin/env node
// @ts-check
// `npm start`: apply D1 migrations to the local database, make sure a
// development ADMIN_TOKEN exists in .dev.vars, then serve the API with
// `wrangler dev` on http://localhost:8787 (state persisted in .wrangler/).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const DEV_VARS = ".dev.vars";

function ensureAdminToken() {
  const existing = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const found = existing.match(/^ADMIN_TOKEN=(.+)$/m);
  if (found) return { token: found[1].trim(), created: false };
  const token = `dev_${randomBytes(24).toString("base64url")}`;
  const prefix = existing && !existing.endsWith("\n") ? `${existing}\n` : existing;
  writeFileSync(DEV_VARS, `${prefix}ADMIN_TOKEN=${token}\n`, { mode: 0o600 });
  return { token, created: true };
}

const wrangler = "node_modules/.bin/wrangler";
const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" }, // no interactive confirmation prompt
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const port = process.env.PORT ?? "8787";
const { token, created } = ensureAdminToken();
console.log(`\n${created ? "Created" : "Using"} ${DEV_VARS} with the development admin key:\n  ADMIN_TOKEN=${token}\n`);
console.log(`Try: curl -H "Authorization: Bearer ${token}" http://localhost:${port}/health\n`);

// wrangler dev starts workerd children: run it in its own process group and
// stop the whole group, so no workerd outlives `npm start`.
const dev = spawn(wrangler, ["dev", "--port", port, ...process.argv.slice(2)], { stdio: "inherit", detached: true });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    try {
      process.kill(-(/** @type {number} */ (dev.pid)), signal);
    } catch {
      // already gone
    }
  });
}
dev.on("exit", (code) => process.exit(code ?? 0));
