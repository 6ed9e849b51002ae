/**
 * The audit log in D1 (`admin_audit`, decision 27). The Worker records the
 * admin actions it performs itself (keys, maintenance, imports), in the same
 * batch as the action where the action is a D1 write, so neither happens
 * without the other; resource actions arrive by a trigger on decision_events.
 */
import { desc, lt } from "drizzle-orm";
import { drizzle } from "./d1";
import { adminAudit } from "./d1-schema";

/** Who performed an action and through which request. */
export interface AuditBy {
  actor: string;
  /** "METHOD /path/{param}". */
  route: string;
  requestId: string;
}

export interface AuditAction {
  action: string;
  reason: string;
  resourceId?: string | null;
  /** JSON as the API shows it; null when there was nothing before (or after). */
  before: unknown;
  after: unknown;
}

/** The row for an action the Worker performed; insert it with the action (`batch`). */
export function auditRow(by: AuditBy, a: AuditAction, now: number): typeof adminAudit.$inferInsert {
  return {
    time: now,
    action: a.action,
    route: by.route,
    keyId: by.actor,
    requestId: by.requestId,
    resourceId: a.resourceId ?? null,
    outcome: "ACCEPTED",
    reason: a.reason,
    before: a.before === null ? null : JSON.stringify(a.before),
    after: a.after === null ? null : JSON.stringify(a.after),
  };
}

/** Records an action that is not itself a D1 write (e.g. an import, done by the objects). */
export async function recordAudit(db: D1Database, by: AuditBy, a: AuditAction, now: number): Promise<void> {
  await drizzle(db)
    .insert(adminAudit)
    .values(auditRow(by, a, now));
}

/**
 * A statement recording an action only if the statement just before it in the same D1 batch changed
 * a row (SQLite's `changes()`): e.g. a job's last step, whose save is conditional.
 */
export function auditIfChanged(db: D1Database, by: AuditBy, a: AuditAction, now: number): D1PreparedStatement {
  const row = auditRow(by, a, now);
  return db
    .prepare(
      `INSERT INTO admin_audit (time, action, route, key_id, request_id, resource_id, outcome, reason, before, after)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() = 1`,
    )
    .bind(
      row.time,
      row.action,
      row.route,
      row.keyId ?? null,
      row.requestId,
      row.resourceId ?? null,
      row.outcome,
      row.reason,
      row.before ?? null,
      row.after ?? null,
    );
}

/** The log newest first (by arrival); `beforeId` pages backwards, so a cursor never skips or repeats. */
export async function auditPage(
  db: D1Database,
  page: { beforeId?: number; limit: number },
): Promise<{ items: (typeof adminAudit.$inferSelect)[]; nextBeforeId: number | null }> {
  const rows = await drizzle(db)
    .select()
    .from(adminAudit)
    .where(page.beforeId === undefined ? undefined : lt(adminAudit.id, page.beforeId))
    .orderBy(desc(adminAudit.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  return { items, nextBeforeId: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}
