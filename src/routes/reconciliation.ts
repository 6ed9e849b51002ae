import { Hono } from "hono";
import { reconcile } from "../cron/reconcile";
import { requireAdmin } from "../http/auth";
import { ReconciliationBody } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readJson } from "../http/validate";
import { resourceStub } from "../resource-object/address";
import { guarded } from "../storage/d1";
import { latestRun, openHistoryDeadLetterCount, type ReconciliationRun } from "../storage/reconciliation";
import { iso } from "../wire/render";

/**
 * The reconciler on demand, and the last run (the cron runs it hourly): gaps
 * in the history found and re-sent from the objects (cron/reconcile.ts).
 */
export const reconciliation = new Hono<AppEnv>();
reconciliation.use(requireAdmin);

reconciliation.get("/", async (c) => {
  const db = guarded(c.env.DB);
  const [run, open] = await Promise.all([latestRun(db), openHistoryDeadLetterCount(db)]);
  return c.json({ last_run: run ? runJson(run) : null, history_dead_letters_open: open });
});

reconciliation.post("/", async (c) => {
  const body = await readJson(c, ReconciliationBody);
  const run = await reconcile(
    { db: guarded(c.env.DB), object: (id) => resourceStub(c.env, id), now: Date.now },
    { trigger: "api", resourceIds: body.resource_ids, minAgeMs: body.min_age_seconds * 1000 },
  );
  return c.json(runJson(run));
});

function runJson(run: ReconciliationRun) {
  return {
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    resources_checked: run.resourcesChecked,
    gaps_found: run.gapsFound,
    gaps_repaired: run.gapsRepaired,
    decisions_repaired: run.decisionsRepaired,
    disagreements: JSON.parse(run.disagreements),
    error: run.error,
  };
}
