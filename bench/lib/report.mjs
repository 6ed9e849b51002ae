// @ts-check
// Turning measured rows into medians, target ratios, Markdown and RESULTS.md.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, ROOT, round } from "./util.mjs";

/**
 * One aggregated row per measurement key: medians over the runs of req/s and
 * latency, status codes summed, checks passed only if they passed every run.
 */
export function aggregate(rows) {
  const byKey = new Map();
  for (const row of rows) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]);
  return [...byKey].map(([key, runs]) => {
    const loads = runs.filter((r) => r.summary);
    const status = {};
    const errors = {};
    for (const r of loads) {
      for (const [code, n] of Object.entries(r.summary.status)) status[code] = (status[code] ?? 0) + n;
      for (const [kind, n] of Object.entries(r.summary.error_kinds)) errors[kind] = (errors[kind] ?? 0) + n;
    }
    const failed = [...new Set(runs.flatMap((r) => Object.entries(r.checks).flatMap(([c, ok]) => (ok ? [] : [c]))))];
    const metric = (f) => (loads.length ? median(loads.map((r) => r.summary[f])) : null);
    return {
      scenario: key,
      connections: runs[0].connections ?? null,
      runs: runs.length,
      rps: metric("rps"),
      rps_runs: loads.map((r) => r.summary.rps),
      p50_ms: metric("p50_ms"),
      p99_ms: metric("p99_ms"),
      responses: loads.reduce((n, r) => n + r.summary.responses, 0),
      status,
      errors,
      ok: failed.length === 0,
      failed_checks: failed,
      info: medianInfo(runs.map((r) => r.info ?? {})),
      per_run: runs.map((r) => ({ summary: r.summary, checks: r.checks, info: r.info, error: r.error })),
    };
  });
}

/** Numeric details as their median over the runs, others from the last run. */
function medianInfo(infos) {
  const merged = { ...infos.at(-1) };
  for (const [k, v] of Object.entries(merged)) {
    if (typeof v === "number") merged[k] = median(infos.map((i) => i[k]).filter((x) => typeof x === "number"));
  }
  return merged;
}

/** The targets, each computed only when its inputs were measured in this run. */
export function targets(aggregated, connections) {
  const row = (key) => aggregated.find((a) => a.scenario === key);
  const rps = (key) => row(key)?.rps;
  const hotKey = `hot@${connections}`;
  const list = [];
  const add = (name, value, goal, pass) => {
    if (value !== undefined && value !== null && !Number.isNaN(value))
      list.push({ name, value, goal, pass: pass(value) });
  };
  const ratio = (a, b) => (a !== undefined && b ? round(a / b, 2) : undefined);
  add(`${hotKey} / noop-rpc req/s`, ratio(rps(hotKey), rps("noop-rpc")), ">= 0.9", (v) => v >= 0.9);
  add(`p99 ${hotKey} / p99 noop-rpc`, ratio(row(hotKey)?.p99_ms, row("noop-rpc")?.p99_ms), "<= 1.2", (v) => v <= 1.2);
  add("hot@100 req/s", rps("hot@100"), ">= 2000", (v) => v >= 2000);
  add("reads / health req/s", ratio(rps("reads"), rps("health")), ">= 0.9", (v) => v >= 0.9);
  add(`spread-uniform / ${hotKey} req/s`, ratio(rps("spread-uniform"), rps(hotKey)), ">= 1", (v) => v >= 1);
  add(`spread-zipf / ${hotKey} req/s`, ratio(rps("spread-zipf"), rps(hotKey)), ">= 1", (v) => v >= 1);
  // Orders: latency against a single reservation's on the same server, items confirmed per second against its rate.
  for (const key of ["orders-2-items", "orders-3-items"]) {
    add(
      `p50 ${key} / p50 orders-single`,
      ratio(row(key)?.p50_ms, row("orders-single")?.p50_ms),
      "<= 2.5",
      (v) => v <= 2.5,
    );
    add(
      `${key} items/s / orders-single req/s`,
      ratio(row(key)?.info.items_per_s, rps("orders-single")),
      ">= 0.5",
      (v) => v >= 0.5,
    );
  }
  add("deep-100k / deep-empty req/s", ratio(rps("deep-100k"), rps("deep-empty")), ">= 0.9", (v) => v >= 0.9);
  const inProcess = row("in-process")?.info;
  add("in-process full / bare", inProcess?.ratio, ">= 0.5", (v) => v >= 0.5);
  add("in-process full commits/s", inProcess?.full_commit_per_s, ">= 50000", (v) => v >= 50_000);
  add("history lag p99 ms", row("history")?.info.lag_p99_ms, "< 2000", (v) => v < 2000);
  add("memory drift %", row("memory")?.info.rss_drift_pct, "within +/-20", (v) => Math.abs(v) <= 20);
  return list;
}

/** A short human summary of a row's scenario-specific details. */
function notes(a) {
  const i = a.info;
  const parts = [];
  const errors = Object.entries(a.errors).map(([kind, n]) => `${kind} ${n}`);
  if (errors.length > 0) parts.push(`socket errors: ${errors.join(", ")}`);
  if (i.kv_hit_pct !== undefined) parts.push(`KV hits ${i.kv_hit_pct}%`);
  if (i.sold_out_after_ms !== undefined) parts.push(`sold out after ${i.sold_out_after_ms} ms`);
  if (i.per_kind) {
    const cancels = Object.entries(i.per_kind.cancel.status).map(([c, n]) => `${c}: ${n}`);
    parts.push(`cancels ${cancels.join(", ") || "none"}`);
    if (i.cancel_route_missing > 0) parts.push("cancel route missing (404 No such route.)");
  }
  if (i.lag_p50_ms !== undefined)
    parts.push(`lag p50 ${i.lag_p50_ms} ms, p99 ${i.lag_p99_ms} ms (${i.samples} samples)`);
  if (i.rss_drift_pct !== undefined) {
    parts.push(`RSS ${i.rss_first_third_mib} -> ${i.rss_last_third_mib} MiB (${i.rss_drift_pct}%)`);
  }
  if (i.full_commit_per_s !== undefined) {
    parts.push(
      `${i.commits_per_transaction} per transaction: full ${i.full_commit_per_s}/s, bare ${i.bare_insert_update_per_s}/s, ratio ${i.ratio}`,
    );
    if (i.alone_full_commit_per_s !== undefined) {
      parts.push(
        `1 per transaction: full ${i.alone_full_commit_per_s}/s, bare ${i.alone_bare_insert_update_per_s}/s, ratio ${i.alone_ratio}`,
      );
    }
  }
  if (i.replayed_max !== undefined) parts.push(`at most ${i.replayed_max} of ${i.decisions} decisions replayed`);
  if (i.created_201 !== undefined && a.runs === 1)
    parts.push(`confirmed +${i.confirmed_delta}, cut off ${i.unanswered}`);
  return parts.join("; ");
}

/** A Markdown table padded the way `biome check` formats one, so RESULTS.md stays lint-clean. */
function table(columns, rows) {
  const widths = columns.map(([h], i) => Math.max(h.length, 3, ...rows.map((cells) => cells[i].length)));
  const pad = (text, i) => (columns[i][1] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = columns.map(([, right], i) => (right ? `${"-".repeat(widths[i] - 1)}:` : "-".repeat(widths[i])));
  return [line(columns.map(([h]) => h)), `| ${rule.join(" | ")} |`, ...rows.map(line)].join("\n");
}

export function figuresTable(aggregated) {
  const columns = [
    ["scenario", false],
    ["conn", true],
    ["req/s", true],
    ["req/s per run", false],
    ["p50 ms", true],
    ["p99 ms", true],
    ["responses", true],
    ["status codes", false],
    ["checks", false],
    ["notes", false],
  ];
  const rows = aggregated.map((a) => [
    a.scenario,
    a.connections ?? "",
    a.rps ?? "",
    a.rps_runs.join(", "),
    a.p50_ms ?? "",
    a.p99_ms ?? "",
    a.responses || "",
    Object.entries(a.status)
      .map(([c, n]) => `${c}: ${n}`)
      .join(", "),
    a.ok ? `pass (${a.runs})` : `FAIL: ${a.failed_checks.join(", ")}`,
    notes(a),
  ]);
  return table(
    columns,
    rows.map((cells) => cells.map(String)),
  );
}

export function targetsTable(list) {
  const columns = [
    ["target", false],
    ["measured", true],
    ["goal", false],
    ["result", false],
  ];
  return table(
    columns,
    list.map((t) => [t.name, String(t.value), t.goal, t.pass ? "PASS" : "MISS"]),
  );
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}

function output(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8" });
  return (r.stdout || "").trim();
}

/** The machine and the software under test; git is only queried, never changed. */
export function environment() {
  const dirty = output("git", ["status", "--porcelain", "--", "src", "wrangler.toml"]);
  return {
    date: new Date().toISOString(),
    nproc: output("nproc", []),
    memory_gib: round(os.totalmem() / 1024 ** 3),
    cpu: os.cpus()[0]?.model ?? "unknown",
    loadavg_1m: round(os.loadavg()[0], 2),
    node: process.version,
    wrangler: packageVersion("wrangler"),
    miniflare: packageVersion("miniflare"),
    workerd: `${packageVersion("workerd")} (${output(path.join(ROOT, "node_modules", ".bin", "workerd"), ["--version"])})`,
    autocannon: packageVersion("autocannon"),
    git: `${output("git", ["rev-parse", "--short", "HEAD"]) || "unknown"}${dirty ? " + uncommitted changes in src/" : ""}`,
  };
}

const MODE_TEXT = {
  serve: "`npm run serve` (the `wrangler deploy --dry-run` bundle in one workerd via Miniflare)",
  "wrangler-dev": "`wrangler dev` (esbuild watch, dev proxy in front of workerd)",
};

export function section({ command, mode, env, aggregated, targetList, remarks }) {
  const lines = [
    `- command: \`${command}\``,
    `- server: ${MODE_TEXT[mode]}, on 127.0.0.1; load generator: autocannon ${env.autocannon} in the same Node process as the orchestration`,
    `- machine: ${env.date}, nproc ${env.nproc}, ${env.memory_gib} GiB memory, ${env.cpu}; 1-min load average at start ${env.loadavg_1m}`,
    "- the load generator and the server share these 2 cores, so absolute figures are low; compare the ratios",
    "- server settings: BENCH_ROUTES=true, RATE_LIMITS_ENABLED=false; its output (the app logs every request) goes to a file",
    `- Node ${env.node}, wrangler ${env.wrangler}, miniflare ${env.miniflare}, workerd ${env.workerd}`,
    `- code: git ${env.git}`,
    "- req/s is the median over the runs of autocannon's mean of one-second samples; p50/p99 are medians over the runs",
    ...remarks.map((r) => `- ${r}`),
    "",
    figuresTable(aggregated),
  ];
  if (targetList.length > 0) lines.push("", targetsTable(targetList));
  return lines.join("\n");
}

const HEADER = "# Benchmark results\n\nWritten by `npm run bench` (see README.md, Benchmarks).\n";

/**
 * Replaces this kind of run's section of RESULTS.md (between its markers),
 * or appends it: other runs' sections and hand-written text stay as they are.
 */
export function writeSection(file, key, title, body) {
  const start = `<!-- bench:${key} -->`;
  const end = `<!-- /bench:${key} -->`;
  const block = `${start}\n\n## ${title}\n\n${body}\n\n${end}`;
  const text = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const [a, b] = [text.indexOf(start), text.indexOf(end)];
  const next =
    a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
