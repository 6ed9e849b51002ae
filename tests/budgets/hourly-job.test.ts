import {
  createExecutionContext,
  createScheduledController,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { reconcileStep, startReconciliation } from "../../src/cron/reconcile";
import worker from "../../src/index";
import { BUDGET, Meter, meterBinding, peaks } from "../../src/lib/budget";
import { resourceStub } from "../../src/resource-object/address";
import type { HistoryMessage } from "../../src/storage/history-writer";
import { findRun } from "../../src/storage/reconciliation";
import { call, createResource, objectOf, reserve, settle } from "../helpers";
import { count, expectAllWithinBudget, reportPeaks, seedHistoryWithGaps, seedRegistry } from "./support";

const RESOURCES = 20_000;
// Resources whose history has a hole, each asked by the reconciler. 200 here: the test pool keeps every
// object it hosts alive in one workerd, and past a few hundred of them SQLite's process-wide memory
// limits slow every statement down (docs/decisions.md #53). `npm run bench:budgets` repairs an outage
// of 5,000 resources against the deploy bundle, where idle objects are evicted.
const OUTAGE = 200;

async function cron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "0 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function runUntilDone(id: number, timeout = 240_000) {
  const progress = async () => {
    const run = await findRun(env.DB, id);
    return run?.status === "completed" ? "completed" : `${run?.status} ${run?.phase} after ${run?.steps} steps`;
  };
  await expect.poll(progress, { timeout, interval: 250 }).toBe("completed");
  return findRun(env.DB, id);
}

/** A real resource whose decisions 2..6 never reached D1 (its history queue dropped them), then 7 did. */
async function realOutage(): Promise<string> {
  const id = (await createResource({ capacity: 100 })).id as string;
  await settle(id);
  const fault = { drop: true };
  await runInDurableObject(objectOf(id), (o) => {
    const real = o.bindings.history;
    o.bindings.history = {
      sendBatch: (m: Iterable<MessageSendRequest<HistoryMessage>>) =>
        fault.drop ? Promise.resolve() : real.sendBatch(m),
    } as unknown as Queue<HistoryMessage>;
  });
  for (let i = 0; i < 5; i++) expect((await reserve(id, { client_id: `lost-${i}` })).status).toBe(201);
  await runInDurableObject(objectOf(id), async (o) => {
    while (!o.outboxCaughtUp()) await new Promise((r) => setTimeout(r, 20));
  });
  fault.drop = false;
  expect((await reserve(id, { client_id: "kept" })).status).toBe(201);
  // Decision 7 reaches D1; 2..6 are a gap there.
  await expect
    .poll(() => count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ? AND seq = 7", id), {
      timeout: 15_000,
    })
    .toBe(1);
  return id;
}

afterAll(reportPeaks);

describe("the hourly job at 20,000 resources and 100,000 history rows, after an outage of 200 resources (5,000 in bench:budgets)", () => {
  it("runs as steps that each stay within 50 D1 queries and 1,000 subrequests, and catches up", async () => {
    const now = Date.now();
    await seedRegistry("scale", RESOURCES, now);
    // Decided two days ago: the tails of the recently active are checked for the real resources only.
    await seedHistoryWithGaps("scale", OUTAGE, { seqs: 51, missing: 10, at: now - 2 * 86_400_000 });
    // And complete histories (no gap) of 2,500 more resources: 110,000 decisions in D1 in all.
    await seedHistoryWithGaps("whole", 2500, { seqs: 40, missing: 0, at: now - 2 * 86_400_000 });
    expect(await count("SELECT COUNT(*) AS n FROM decision_events")).toBeGreaterThanOrEqual(100_000);
    expect(await count("SELECT COUNT(*) AS n FROM history_shape WHERE rows < last_seq")).toBe(OUTAGE);
    const real = [await realOutage(), await realOutage()];
    // The registry round goes on from where an earlier run left it: near the end, 100 ids this run.
    await env.DB.prepare(
      `INSERT INTO reconciliation_runs (trigger, started_at, finished_at, status, watermark, registry_cursor)
       VALUES ('scheduled', ?, ?, 'completed', 0, 'scale-19900')`,
    )
      .bind(now - 3_600_000, now - 3_500_000)
      .run();
    peaks.clear();

    await cron();
    const started = await env.DB.prepare("SELECT id FROM reconciliation_runs ORDER BY id DESC LIMIT 1").first<{
      id: number;
    }>();
    // The decisions just made are under a minute old: this run leaves them to the queue; the next repairs them.
    const run = await runUntilDone(started?.id as number);
    expect(run).toMatchObject({ status: "completed", phase: "done" });
    // A gap costs a query and an object call: about 40 per step of 50 queries; then the tails of the
    // recently active and a registry page of 1,000, at about 950 object calls per step. A bounded
    // number of steps, each a queue message with a budget of its own.
    expect(run?.steps).toBeGreaterThanOrEqual(OUTAGE / 45);
    expect(run?.steps).toBeLessThan(OUTAGE / 30 + 10);
    expect(run?.resourcesChecked).toBeGreaterThanOrEqual(OUTAGE + 100);
    expect(run?.registryCursor).toBeNull(); // the end of the registry: the next run starts it again

    const within = expectAllWithinBudget();
    expect(within.scheduled?.d1_queries).toBeLessThanOrEqual(6);
    // The steps used their budget: the bound, not the data, is what limits them.
    expect(within["queue reservation-jobs"]?.d1_queries).toBeGreaterThan(BUDGET.d1Queries - 10);

    // The export, started by the same cron, caught up in steps of its own.
    await expect
      .poll(() => count("SELECT COALESCE(SUM(rows), 0) AS n FROM export_runs WHERE status = 'completed'"), {
        timeout: 60_000,
      })
      .toBe(await count("SELECT COUNT(*) AS n FROM decision_events"));

    // An operator's run over the real resources, with no minimum age: their gaps are repaired.
    const res = await call("POST", "/admin/reconciliation", { body: { resource_ids: real, min_age_seconds: 0 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "completed", gaps_repaired: 2, decisions_repaired: 10 });
    for (const id of real) {
      expect(await count("SELECT COUNT(DISTINCT seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(7);
    }
    expectAllWithinBudget();
  }, 600_000);

  it("never leaves a run stuck: a step killed part way is resumed by the next cron, which finishes it", async () => {
    const id = await realOutage();
    const run = await startReconciliation(env.DB, Date.now(), { trigger: "api", resourceIds: [id], minAgeMs: 0 });
    // The step dies after a few D1 queries (D1 unreachable, the isolate killed): nothing it did is saved.
    let queries = 0;
    const dying = new Proxy(env.DB, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "batch" && ++queries >= 1) throw new Error("D1_ERROR: Network connection lost. (injected)");
          return Reflect.apply(value, target, args);
        };
      },
    });
    const meter = new Meter("test step");
    const deps = { db: meterBinding(dying, meter), object: (r: string) => resourceStub(env, r), now: Date.now, meter };
    await expect(reconcileStep(deps, run)).rejects.toThrow("injected");
    expect(await findRun(env.DB, run.id)).toMatchObject({ status: "running", steps: 0 });

    // Five minutes later nothing has moved it on: the cron sends its step again, and the queue runs it.
    await env.DB.prepare("UPDATE reconciliation_runs SET updated_at = ? WHERE id = ?")
      .bind(Date.now() - 6 * 60_000, run.id)
      .run();
    await cron();
    const done = await runUntilDone(run.id, 30_000);
    expect(done).toMatchObject({ status: "completed", gapsRepaired: 1, decisionsRepaired: 5 });
    expect(await count("SELECT COUNT(DISTINCT seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(7);
  });
});
