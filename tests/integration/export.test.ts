import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { exportHistory, exportLagSeconds, type RunSummary } from "../../src/cron/export";
import worker from "../../src/index";
import { Meter, meterBinding } from "../../src/lib/budget";
import { createResource, reserve, settle } from "../helpers";

/** Every event id in every NDJSON object of the bucket, in key order. */
async function exportedIds(): Promise<number[]> {
  const listed = await env.EXPORTS.list({ prefix: "reservations/" });
  const ids: number[] = [];
  for (const o of listed.objects.filter((o) => o.key.endsWith(".ndjson")).sort((a, b) => a.key.localeCompare(b.key))) {
    const text = await (await env.EXPORTS.get(o.key))?.text();
    for (const line of (text ?? "").split("\n").filter(Boolean)) ids.push(JSON.parse(line).event_id);
  }
  return ids;
}

async function allEventIds(): Promise<number[]> {
  const { results } = await env.DB.prepare("SELECT id FROM decision_events ORDER BY id").all<{ id: number }>();
  return results.map((r) => r.id);
}

async function commitSome(n: number): Promise<string> {
  const resource = await createResource({ capacity: n - 2 }); // two refusals among them
  const id = resource.id as string;
  await Promise.all(Array.from({ length: n }, (_, i) => reserve(id, { client_id: `c-${i}` })));
  await settle(id);
  return id;
}

/**
 * Export steps as the jobs queue runs them, each with an invocation's budget of its own, until caught
 * up: the runs completed and how many steps it took.
 */
async function exportAll(db: D1Database = env.DB, bucket: R2Bucket = env.EXPORTS) {
  const runs: RunSummary[] = [];
  for (let steps = 1; ; steps++) {
    const meter = new Meter("test export step");
    const step = await exportHistory({
      db: meterBinding(db, meter),
      bucket: meterBinding(bucket, meter),
      now: Date.now,
      meter,
    });
    runs.push(...step.runs);
    if (step.caughtUp) return { runs, steps };
  }
}

/** An R2 binding whose `put` fails on the given call: the real binding, wrapped. */
function failingOnPut(real: R2Bucket, failOnCall: number): R2Bucket {
  let calls = 0;
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "put") return typeof value === "function" ? value.bind(target) : value;
      return (...args: Parameters<R2Bucket["put"]>) => {
        calls += 1;
        if (calls === failOnCall) return Promise.reject(new Error("R2 write failed (injected)"));
        return target.put(...args);
      };
    },
  });
}

describe("scheduled export to R2", () => {
  it("exports each decision exactly once across runs with commits in between", async () => {
    await commitSome(20);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "0 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    // The cron only sends the export step; the jobs queue runs it.
    const all = await allEventIds();
    await expect.poll(() => exportedIds(), { timeout: 15_000 }).toEqual(all);

    await commitSome(15);
    const { runs: second } = await exportAll();
    expect(second).toHaveLength(1);
    expect(second[0]?.rows).toBe(16); // the create and 15 decisions
    expect(await exportedIds()).toEqual(await allEventIds());

    // Nothing new: no run, no object.
    expect((await exportAll()).runs).toEqual([]);

    const csvKey = second[0]?.keys[1] as string;
    expect(csvKey).toMatch(/^reservations\/\d{4}\/\d{2}\/\d{2}\/run-\d{12}-\d{12}\.csv$/);
    const csv = parse((await (await env.EXPORTS.get(csvKey))?.text()) ?? "", { columns: true }) as Record<
      string,
      string
    >[];
    expect(csv.map((r) => Number(r.event_id))).toEqual((await allEventIds()).slice(-16));
  });

  it("finishes a run that failed half way on the next invocation, with no gap and no duplicate", async () => {
    await commitSome(12);
    const before = await exportedIds();

    // The NDJSON object is written, then the CSV write fails: the run stays "started".
    await expect(exportAll(env.DB, failingOnPut(env.EXPORTS, 2))).rejects.toThrow("injected");
    const started = await env.DB.prepare("SELECT id, from_id, to_id FROM export_runs WHERE status = 'started'").all();
    expect(started.results).toHaveLength(1);

    await commitSome(5); // more history arrives before the retry
    const { runs: retried } = await exportAll();
    expect(retried.map((r) => r.id)[0]).toBe(started.results[0]?.id); // the same run, redone first

    const ids = await exportedIds();
    expect(ids).toEqual(await allEventIds());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, before.length)).toEqual(before);
    const open = await env.DB.prepare("SELECT COUNT(*) AS n FROM export_runs WHERE status = 'started'").first<{
      n: number;
    }>();
    expect(open?.n).toBe(0);
  });

  it("keeps up with any backlog: 101,000 rows in bounded steps, each within one invocation's budget", async () => {
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 101000)
       INSERT INTO decision_events (resource_id, seq, server_timestamp, type, request_id, outcome, reason, detail,
         version_before, version_after, rules_version, drained_at)
       SELECT 'bulk-backlog', i, 0, 'note', 'r', 'ACCEPTED', 'bulk', '{}', 1, 1, 1, 0 FROM n`,
    ).run();
    const lagBefore = await exportLagSeconds(env.DB, Date.now());
    expect(lagBefore).toBeGreaterThan(0);
    const { runs, steps } = await exportAll();
    expect(runs.length).toBeGreaterThan(20);
    // Each step exports as many 5,000-row runs as 50 D1 queries allow (7 each), never more.
    expect(steps).toBeGreaterThanOrEqual(Math.ceil(runs.length / 7));
    const ids = await exportedIds();
    expect(ids).toEqual(await allEventIds());
    expect(await exportLagSeconds(env.DB, Date.now())).toBe(0);
  });

  it("never exports a row twice when another invocation starts a run between our range and our start", async () => {
    await commitSome(30);
    // Our invocation computes its range; just before it records its run, more history arrives and another
    // invocation starts and completes a run over a wider range. Recording ours then would export rows twice.
    let interleaved = false;
    const racing = new Proxy(env.DB, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "prepare") return typeof value === "function" ? value.bind(target) : value;
        return (query: string) => {
          const statement = target.prepare(query);
          if (interleaved || !/^\s*insert into "?export_runs/i.test(query)) return statement;
          interleaved = true;
          const run = async () => {
            await commitSome(10);
            await exportAll();
          };
          const wrap = (s: D1PreparedStatement): D1PreparedStatement =>
            new Proxy(s, {
              get(t, p) {
                const v = Reflect.get(t, p, t);
                if (typeof v !== "function") return v;
                if (p === "bind") return (...args: unknown[]) => wrap(v.apply(t, args));
                return async (...args: unknown[]) => {
                  await run();
                  return v.apply(t, args);
                };
              },
            });
          return wrap(statement);
        };
      },
    });
    await exportAll(racing);
    expect(interleaved).toBe(true);
    const ids = await exportedIds();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(await allEventIds());
  });

  it("writes spreadsheet-safe CSV (formula cells prefixed with ') and NDJSON with the values unchanged", async () => {
    const resource = await createResource({ capacity: 5 });
    const id = resource.id as string;
    const clients = ["=1+1", "@cmd", "-5", "ok"];
    for (const client_id of clients) await reserve(id, { client_id });
    await settle(id);
    const { runs } = await exportAll();
    const texts = (suffix: string) =>
      Promise.all(
        runs
          .flatMap((r) => r.keys)
          .filter((k) => k.endsWith(suffix))
          .map(async (k) => (await (await env.EXPORTS.get(k))?.text()) ?? ""),
      );
    const mine = (rows: Record<string, any>[]) =>
      rows.filter((r) => r.resource_id === id && r.type === "reservation.reserve");

    const csv = (await texts(".csv")).flatMap((t) => parse(t, { columns: true }) as Record<string, string>[]);
    expect(mine(csv).map((r) => r.client_id)).toEqual(["'=1+1", "'@cmd", "'-5", "ok"]);
    expect(mine(csv).every((r) => /^\d+$/.test(r.event_id) && r.quantity === "1")).toBe(true);

    const ndjson = (await texts(".ndjson")).flatMap((t) =>
      t
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    );
    expect(mine(ndjson).map((r) => r.client_id)).toEqual(clients);
  });
});
