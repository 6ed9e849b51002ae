// @ts-check
// Every scenario, in the order a run measures them. A scenario is
// { name, setup?(ctx) -> state, measure(ctx, state) -> rows, once?, needsServer?, modes? }:
// setup runs once per bench run, measure once per --runs round (once only if `once`).
import { deep } from "./deep.mjs";
import { explain } from "./explain.mjs";
import { floor } from "./floor.mjs";
import { history } from "./history.mjs";
import { hot } from "./hot.mjs";
import { inProcess } from "./in-process.mjs";
import { memory } from "./memory.mjs";
import { mixed } from "./mixed.mjs";
import { orders } from "./orders.mjs";
import { reads } from "./reads.mjs";
import { sellout } from "./sellout.mjs";
import { spread } from "./spread.mjs";

export const SCENARIOS = [floor, hot, sellout, spread, reads, mixed, orders, deep, history, memory, inProcess, explain];

/**
 * `all` is everything but memory, which takes a minute and runs only with --memory (or by name), and
 * explain, whose 200,000 decisions of setup take minutes (by name: `npm run bench -- explain`).
 */
export function selectScenarios(list, withMemory) {
  const byName = ["memory", "explain"];
  const names = list === "all" ? SCENARIOS.map((s) => s.name).filter((n) => !byName.includes(n)) : list.split(",");
  if (withMemory && !names.includes("memory")) names.push("memory");
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(", ")}`);
  return SCENARIOS.filter((s) => names.includes(s.name));
}
