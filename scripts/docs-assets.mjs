#!/usr/bin/env node
// The files of GET /docs that come from swagger-ui-dist (a devDependency,
// version pinned in package-lock.json): copied from node_modules into
// public/docs/swagger-ui/, the Worker's static assets (wrangler.toml
// [assets]), where they are git-ignored. wrangler.toml's [build] command runs
// this before every `wrangler dev` (`npm start`) and `wrangler deploy`
// (a deploy, and `npm run serve`, which builds with `deploy --dry-run`), so
// the assets are always those of the installed version. Nothing is fetched.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FROM = path.join(ROOT, "node_modules", "swagger-ui-dist");
const TO = path.join(ROOT, "public", "docs", "swagger-ui");
/** What /docs loads (the bundle and its style), and the licence that goes with them. */
const FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"];

if (!existsSync(path.join(FROM, "package.json"))) {
  console.error("docs-assets: node_modules/swagger-ui-dist is missing: run npm install");
  process.exit(1);
}
// Only these files: a stale or stray file would be served too.
if (existsSync(TO)) {
  for (const name of readdirSync(TO)) if (!FILES.includes(name)) rmSync(path.join(TO, name), { recursive: true });
}
mkdirSync(TO, { recursive: true });
// Unchanged files are left alone, so that `wrangler dev`, which watches the assets, does not reload for nothing.
for (const name of FILES) {
  const [from, to] = [path.join(FROM, name), path.join(TO, name)];
  if (!existsSync(to) || !readFileSync(from).equals(readFileSync(to))) copyFileSync(from, to);
}
const { version } = JSON.parse(readFileSync(path.join(FROM, "package.json"), "utf8"));
console.log(`docs-assets: swagger-ui-dist ${version} → ${path.relative(ROOT, TO)}/`);
