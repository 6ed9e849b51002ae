import { reconcileStep, startReconciliation } from "../cron/reconcile";
import { requireAdmin } from "../http/auth";
import { RESPONSE_BODIES as B } from "../http/responses";
import { type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import { ReconciliationBody } from "../http/schemas";
import { sendStep } from "../jobs/steps";
import { meterOf } from "../lib/budget";
import { resourceStub } from "../resource-object/address";
import { guarded } from "../storage/d1";
import { latestRun, openHistoryDeadLetterCount, type ReconciliationRun } from "../storage/reconciliation";
import { iso } from "../wire/render";

/**
 * The reconciler on demand, and the last run (the cron starts one hourly):
 * gaps in the history found and re-sent from the objects (cron/reconcile.ts).
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
      description:
        "The last run (null before the first), with its progress while it runs, and dead-lettered history messages not reconciled yet.",
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
    "With `resource_ids`: exactly those. Without: every resource whose messages were dead-lettered, every resource with a gap in its history, the resources active since the last scheduled run (a lost tail) and the next 1,000 of the registry. Gaps are re-sent from the objects; only decisions really missing count as repaired. The run goes as far as this request's budget allows: `200` when it is complete, else `202` and it goes on in steps (`GET /admin/reconciliation` shows its progress).",
  body: ReconciliationBody,
  ok: {
    200: {
      description: "The completed run: resources checked, gaps found and repaired, disagreements.",
      body: B.ReconciliationRun,
    },
    202: { description: "The run so far; it goes on in the background.", body: B.ReconciliationRun },
  },
});
reconciliation.openapi(run, async (c) => {
  const body = valid(c, "json", ReconciliationBody);
  const db = guarded(c.env.DB);
  const meter = meterOf(c.env);
  let current = await startReconciliation(db, Date.now(), {
    trigger: "api",
    resourceIds: body.resource_ids,
    minAgeMs: body.min_age_seconds * 1000,
  });
  if (meter) {
    const deps = { db, object: (id: string) => resourceStub(c.env, id), now: Date.now, meter };
    current = (await reconcileStep(deps, current)) ?? current;
  }
  if (current.status === "running") {
    await sendStep(c.env, { kind: "reconcile", runId: current.id });
    return c.json(runJson(current), 202);
  }
  return c.json(runJson(current), 200);
});

function runJson(run: ReconciliationRun) {
  return {
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    phase: run.phase,
    steps: run.steps,
    started_at: iso(run.startedAt),
    updated_at: iso(run.updatedAt),
    finished_at: iso(run.finishedAt),
    resources_checked: run.resourcesChecked,
    gaps_found: run.gapsFound,
    gaps_repaired: run.gapsRepaired,
    decisions_repaired: run.decisionsRepaired,
    disagreements: JSON.parse(run.disagreements),
    error: run.error,
  };
}
