#!/usr/bin/env node
// @ts-check
// `npm run test:layers` (part of `npm test`): imports in src/ point one way.
//
//   domain  ←  lib, wire, config  ←  resource-object, storage, cron, queues, jobs  ←  http  ←  routes  ←  app, index
//
// A module may import its own layer or a layer to its left, never one to its
// right: the rules (domain) know nothing of storage, the object never
// reaches into HTTP, HTTP helpers never into a route. The domain imports
// nothing outside itself. Exits 1 listing each import that points the wrong way.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SRC = path.join(ROOT, "src");

/** The layer of a file under src/, by its first path segment. */
const LAYERS = {
  domain: 0,
  lib: 1,
  wire: 1,
  "config.ts": 1,
  "resource-object": 2,
  "order-object": 2,
  storage: 2,
  cron: 2,
  queues: 2,
  jobs: 2,
  http: 3,
  routes: 4,
  "app.ts": 5,
  "index.ts": 5,
};

/** @param {string} file a path under src/ */
function layerOf(file) {
  const first = path.relative(SRC, file).split(path.sep)[0] ?? "";
  const layer = LAYERS[/** @type {keyof typeof LAYERS} */ (first)];
  if (layer === undefined) throw new Error(`check-layers: no layer for ${path.relative(ROOT, file)}; add it to LAYERS`);
  return { name: first, layer };
}

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith(".ts") ? [full] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/gm;
const problems = [];
let checked = 0;
for (const file of sources(SRC)) {
  const from = layerOf(file);
  const text = readFileSync(file, "utf8");
  for (const match of text.matchAll(IMPORT)) {
    const target = path.resolve(path.dirname(file), match[1] ?? "");
    if (!target.startsWith(SRC)) continue;
    const to = layerOf(existsSync(`${target}.ts`) ? `${target}.ts` : path.join(target, "index.ts"));
    checked += 1;
    const wrongWay = to.layer > from.layer || (from.name === "domain" && to.name !== "domain");
    if (wrongWay) {
      const line = text.slice(0, match.index).split("\n").length;
      problems.push(`${path.relative(ROOT, file)}:${line}: ${from.name} imports ${to.name} (${match[1]})`);
    }
  }
}
if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} import(s) point the wrong way:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `check-layers: ${checked} imports in src/ all point one way (domain ← lib/wire ← object/storage/cron/queues ← http ← routes).`,
);
