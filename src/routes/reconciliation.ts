import { reconcile } from "../cron/reconcile";
import { requireAdmin } from "../http/auth";
import { RESPONSE_BODIES as B } from "../http/responses";
import { type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import { ReconciliationBody } from "../http/schemas";
import { resourceStub } from "../resource-object/address";
import { guarded } from "../storage/d1";
import { latestRun, openHistoryDeadLetterCount, type ReconciliationRun } from "../storage/reconciliation";
import { iso } from "../wire/render";

/**
 * The reconciler on demand, and the last run (the cron runs it hourly): gaps
 * in the history found and re-sent from the objects (cron/reconcile.ts).
 */
export const reconciliation = routesApp();
reconciliation.use(requireAdmin);

const at = (r: Omit<RouteSpec, "tag" | "access">) =>
  route("/admin/reconciliation", { ...r, tag: "Admin", access: "admin" });

const status = at({
  method: "get",
  path: "/",
  summary: "The last reconciliation of the history with the objects",
  ok: {
    200: {
      description: "The last run (null before the first) and dead-lettered history messages not reconciled yet.",
      body: B.ReconciliationStatus,
    },
  },
});
reconciliation.openapi(status, async (c) => {
  const db = guarded(c.env.DB);
  const [run, open] = await Promise.all([latestRun(db), openHistoryDeadLetterCount(db)]);
  return c.json({ last_run: run ? runJson(run) : null, history_dead_letters_open: open });
});

const run = at({
  method: "post",
  path: "/",
  summary: "Reconcile the history with the objects now",
  description:
    "Without `resource_ids`: every resource that received decisions since the last scheduled run (gaps), and the 1,000 most recently active (a lost tail). Gaps are re-sent from the objects; only decisions really missing count as repaired.",
  body: ReconciliationBody,
  ok: {
    200: {
      description: "The run: resources checked, gaps found and repaired, disagreements.",
      body: B.ReconciliationRun,
    },
  },
});
reconciliation.openapi(run, async (c) => {
  const body = valid(c, "json", ReconciliationBody);
  const done = await reconcile(
    { db: guarded(c.env.DB), object: (id) => resourceStub(c.env, id), now: Date.now },
    { trigger: "api", resourceIds: body.resource_ids, minAgeMs: body.min_age_seconds * 1000 },
  );
  return c.json(runJson(done));
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
