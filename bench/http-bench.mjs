#!/usr/bin/env node
// @ts-check
// `npm run bench:http`, kept for its README mention: the floor and hot
// scenarios of `npm run bench` (bench/run.mjs, which replaced this script)
// against `wrangler dev`. Further flags are passed on, e.g. --runs 1.
process.argv.splice(2, 0, "--mode", "wrangler-dev", "--scenario", "floor,hot");
await import("./run.mjs");
