#!/usr/bin/env node
// @ts-check
// `npm run bench:budgets`: every entry point's busiest invocation at the sizes that broke the engine
// before, against the deploy bundle in one workerd (`npm run serve`, fresh state, bench routes), where
// idle objects are evicted as they are on Cloudflare:
//   - 20,000 resources in the registry and 100,000 history rows, 5,000 of those resources with a gap
//     (a history outage): the hourly job (cron, then its steps on the jobs queue) until its
//     reconciliation run completes and the export has caught up;
//   - a 10,000-row CSV import (a restaurant's year of slots) as a job, then the same file again;
//   - 100,000 reservations exported through GET /admin/reservations/export, part after part.
// Before the server starts, the budget tests run in the test pool (a backlog of 5,000 undelivered
// decisions, the plans, the resumed steps) and their peaks are merged in.
// The engine's own meters (src/lib/budget.ts) refuse any call over the budget, so a step over it would
// fail; this reads their peaks (GET /__bench/budgets), checks them and prints one JSON line:
// {"scenario":"budgets","entry_points":{…},"sizes":{…},…}. Exit 1 if any check fails.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { adminHeaders } from "./lib/api.mjs";
import { startServer } from "./lib/server.mjs";
import { ROOT, sleep } from "./lib/util.mjs";

const BUDGET = { d1_queries: 50, subrequests: 1000 };
const SIZES = {
  resources: 20_000,
  history_rows: 100_000,
  outage_resources: 5_000,
  import_rows: 10_000,
  export_rows: 100_000,
};
const IMPORT_HEADER =
  "id,type,capacity,waiting_list_enabled,booking_opens_at,booking_closes_at,max_quantity_per_reservation,hold_ttl_seconds,waiting_list_offer_ttl_seconds";

/** The budget tests (tests/budgets) in the test pool: their peaks, by the lines they print. */
function testPoolPeaks() {
  const run = spawnSync("npx", ["vitest", "run", "--config", "vitest.budgets.config.ts", "--silent=false"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
  });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape of a terminal colour code
  const out = `${run.stdout}`.replace(/\x1b\[[0-9;]*m/g, "");
  const found = [...out.matchAll(/BUDGET_PEAKS (\{.*\})/g)].map((m) => JSON.parse(m[1] ?? "{}"));
  // By the tests' own count: with every console line shown, the pool's teardown can report an
  // "EnvironmentTeardownError" about a log still in flight, which sets the exit status.
  const ok = /Tests\s+\d+ passed/.test(out) && !/\d+ failed/.test(out);
  return { ok, peaks: found };
}

/** The larger of each entry point's peaks. */
function merged(...all) {
  const out = {};
  for (const peaks of all) {
    for (const [name, p] of Object.entries(peaks)) {
      const seen = out[name] ?? { d1_queries: 0, subrequests: 0 };
      out[name] = {
        d1_queries: Math.max(seen.d1_queries, p.d1_queries),
        subrequests: Math.max(seen.subrequests, p.subrequests),
      };
    }
  }
  return out;
}

console.log("running the budget tests (tests/budgets) in the test pool …");
const pool = testPoolPeaks();

const stateDir = path.join(ROOT, "bench", ".out", `budgets-${Date.now()}`);
const server = await startServer({ mode: "serve", stateDir, logFile: path.join(stateDir, "server.log") });
const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
};

async function api(method, route, body, headers = {}) {
  const res = await fetch(`${server.base}${route}`, {
    method,
    headers: { ...adminHeaders(server), ...headers },
    body: typeof body === "string" ? body : body && JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  return {
    status: res.status,
    headers: res.headers,
    body: type.startsWith("application/json") && text ? JSON.parse(text) : text,
  };
}

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

try {
  const d1 = /** @type {(sql: string, params?: unknown[]) => Promise<any[]>} */ (server.d1);
  const now = Date.now();
  const started = { at: Date.now() };
  // Seeded straight into the served D1 database, one statement each, as the history writer leaves them.
  await d1(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
     INSERT INTO resources (id, type, state, capacity, confirmed, held, waiting_list_enabled, hold_ttl_seconds,
       metadata, version, rules_version, created_at, updated_at, last_seq)
     SELECT printf('reg-%05d', i), 'session', 'OPEN', 10, 0, 0, 0, 600, '{}', 1, 1, ?2, ?2, 21 FROM n`,
    [SIZES.resources, now],
  );
  await d1(
    `WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ?1),
       s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < 21)
     INSERT INTO decision_events (resource_id, seq, server_timestamp, type, request_id, outcome, reason, detail,
       version_before, version_after, rules_version, drained_at)
     SELECT printf('reg-%05d', i), seq, ?2 - 172800000 + seq, 'note', 'seeded', 'ACCEPTED', 'seeded', '{}', 1, 1, 1, ?2
     FROM r, s WHERE seq <> 10 ORDER BY 1, 2`,
    [SIZES.outage_resources, now],
  );
  await d1(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
     INSERT INTO reservations (id, resource_id, client_id, quantity, status, server_seq, server_timestamp, rules_version,
       metadata, updated_seq)
     SELECT printf('rsv_bench_%06d', i), printf('reg-%05d', 1 + i % 5000), 'c', 1, 'CONFIRMED', i,
       ?2 - 3600000 + i / 10, 1, '{}', i FROM n`,
    [SIZES.export_rows, now],
  );
  const [rows] = await d1("SELECT COUNT(*) AS n FROM decision_events");
  console.log(`seeded ${SIZES.resources} resources, ${rows.n} history rows, ${SIZES.export_rows} reservations`);
  check(rows.n >= SIZES.history_rows, `history rows ${rows.n} < ${SIZES.history_rows}`);

  // The hourly job: the cron starts it; its steps run on the jobs queue.
  const cron = await fetch(`${server.base}/cdn-cgi/handler/scheduled`);
  check(cron.ok, `the cron answered ${cron.status}`);
  const run = await until(
    "the reconciliation run",
    async () => {
      const r = (await api("GET", "/admin/reconciliation")).body.last_run;
      return r && r.status !== "running" ? r : null;
    },
    900_000,
  );
  const [exported] = await until(
    "the export",
    async () => {
      const [e] = await d1("SELECT COALESCE(SUM(rows), 0) AS n FROM export_runs WHERE status = 'completed'");
      const [all] = await d1("SELECT COUNT(*) AS n FROM decision_events");
      return e.n >= all.n ? [e] : null;
    },
    300_000,
  );
  console.log(
    `reconciliation ${run.status} in ${run.steps} steps, ${run.resources_checked} checked; exported ${exported.n}`,
  );
  check(run.status === "completed", `reconciliation ended ${run.status}: ${run.error}`);
  const objectErrors = run.disagreements.filter((d) => d.error).length;

  // A 10,000-row import, then the same file again.
  const lines = Array.from({ length: SIZES.import_rows }, (_, i) => `slot-${i},table,${(i % 8) + 1},false,,,,600,900`);
  const csv = `${IMPORT_HEADER}\n${lines.join("\n")}\n`;
  const importOnce = async () => {
    const res = await api("POST", "/admin/resources/import", csv, { "content-type": "text/csv" });
    check(res.status === 202, `import answered ${res.status}`);
    const t0 = Date.now();
    const job = await until(
      "the import job",
      async () => {
        const j = (await api("GET", `/admin/jobs/${res.body.id}`)).body;
        return j.status === "SUCCEEDED" || j.status === "FAILED" ? j : null;
      },
      1_200_000,
    );
    return { ...job, seconds: Math.round((Date.now() - t0) / 1000) };
  };
  const first = await importOnce();
  const second = await importOnce();
  console.log(
    `import: created ${first.created} in ${first.seconds} s; again: unchanged ${second.unchanged} in ${second.seconds} s`,
  );
  check(first.created === SIZES.import_rows && first.failed_count === 0, `first import: ${JSON.stringify(first)}`);
  check(second.unchanged === SIZES.import_rows && second.created === 0, `second import: ${JSON.stringify(second)}`);

  // The export route, part after part.
  let cursor = null;
  let exportRows = 0;
  let parts = 0;
  do {
    const res = await api("GET", `/admin/reservations/export?format=ndjson${cursor ? `&cursor=${cursor}` : ""}`);
    check(res.status === 200, `export part answered ${res.status}`);
    exportRows += String(res.body).split("\n").filter(Boolean).length;
    cursor = res.headers.get("x-export-cursor");
    parts++;
  } while (cursor);
  check(exportRows === SIZES.export_rows, `the export gave ${exportRows} rows`);

  check(pool.ok, "the budget tests failed (npm run test:budgets)");
  const entryPoints = merged((await api("GET", "/__bench/budgets")).body, ...pool.peaks);
  for (const [name, peak] of Object.entries(entryPoints)) {
    check(peak.d1_queries <= BUDGET.d1_queries && peak.subrequests <= BUDGET.subrequests, `${name} over budget`);
  }
  const line = {
    scenario: "budgets",
    entry_points: entryPoints,
    sizes: {
      resources: SIZES.resources,
      history_rows: rows.n,
      import_rows: SIZES.import_rows,
      backlog: 5000, // undelivered decisions, drained in the test pool (tests/budgets/backlog.test.ts)
      outage_resources: SIZES.outage_resources,
      export_rows: exportRows,
    },
    reconciliation: {
      status: run.status,
      steps: run.steps,
      checked: run.resources_checked,
      object_errors: objectErrors,
    },
    import: {
      created: first.created,
      seconds: first.seconds,
      again_unchanged: second.unchanged,
      again_seconds: second.seconds,
    },
    export_parts: parts,
    seconds: Math.round((Date.now() - started.at) / 1000),
    problems,
  };
  console.log(JSON.stringify(line));
} catch (error) {
  problems.push(String(error));
  console.error(error);
} finally {
  await server.stop();
}
process.exit(problems.length ? 1 : 0);
