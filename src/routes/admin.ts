import { Hono } from "hono";
import { requireAdmin } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { exportStream, primed } from "../http/export-stream";
import {
  AnalyticsQuery,
  CreateApiKeyBody,
  ExportQuery,
  ImportQuery,
  MaintenanceBody,
  PageQuery,
  TimelineQuery,
} from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readJson, readNoBody, readQuery } from "../http/validate";
import { resourceStub } from "../resource-object/address";
import { createKey, listKeys, revokeKey } from "../storage/api-keys";
import { auditPage, recordAudit } from "../storage/audit";
import { decisionsOfTypes, reservationPages } from "../storage/history";
import { readMaintenance, writeMaintenance } from "../storage/settings";
import { analytics } from "../storage/stats";
import { apiKeyJson, iso } from "../wire/render";
import { importResources } from "./import";
import { knownResourceId, resourceNotFound } from "./resources";

export const admin = new Hono<AppEnv>();
admin.use(requireAdmin);

/** Every decision on a resource, rejections included, in `server_seq` order, from its Durable Object. */
admin.get("/resources/:id/timeline", async (c) => {
  const query = readQuery(c, TimelineQuery);
  const stub = resourceStub(c.env, knownResourceId(c.req.param("id")));
  const page = await stub.timeline({ afterSeq: query.after_seq, limit: query.limit });
  if (!page) throw resourceNotFound();
  return c.json({
    items: page.items.map((e) => ({
      seq: e.seq,
      server_timestamp: iso(e.serverTimestamp),
      type: e.type,
      request_id: e.requestId,
      client_id: e.clientId,
      quantity: e.quantity,
      outcome: e.outcome,
      code: e.code,
      reason: e.reason,
      detail: e.detail,
      version_before: e.versionBefore,
      version_after: e.versionAfter,
      rules_version: e.rulesVersion,
      latency_ms: e.latencyMs,
    })),
    next_after_seq: page.nextAfterSeq,
  });
});

/** Reservations from the history database, streamed as NDJSON or CSV (RFC 4180), filtered by resource and time. */
admin.get("/reservations/export", async (c) => {
  const query = readQuery(c, ExportQuery);
  const filter = { resourceId: query.resource_id, from: query.from, to: query.to };
  const pages = await primed(reservationPages(c.env.DB, filter));
  const csv = query.format === "csv";
  return c.body(exportStream(pages, query.format), 200, {
    "Content-Type": csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
    "Content-Disposition": `attachment; filename="reservations.${query.format}"`,
  });
});

/**
 * Every admin action, newest first (in the order it reached the log): keys,
 * maintenance and imports as they happen, resource actions as the objects'
 * decisions reach D1 (seconds behind). Decision 27.
 */
admin.get("/audit", async (c) => {
  const query = readQuery(c, PageQuery);
  const page = await auditPage(c.env.DB, { beforeId: cursorId(query.cursor), limit: query.limit });
  return c.json({
    items: page.items.map((e) => ({
      id: e.id,
      time: iso(e.time),
      action: e.action,
      route: e.route,
      resource_id: e.resourceId,
      outcome: e.outcome,
      reason: e.reason,
      key_id: e.keyId,
      request_id: e.requestId,
      before: e.before === null ? null : JSON.parse(e.before),
      after: e.after === null ? null : JSON.parse(e.after),
    })),
    next_cursor: page.nextBeforeId === null ? null : String(page.nextBeforeId),
  });
});

/** Webhook events whose delivery gave up after the last attempt, newest first. */
admin.get("/dead-letters", async (c) => {
  const query = readQuery(c, PageQuery);
  const page = await decisionsOfTypes(c.env.DB, ["webhook.dead_letter"], {
    beforeId: cursorId(query.cursor),
    limit: query.limit,
  });
  return c.json({
    items: page.items.map((e) => ({
      id: e.id,
      time: iso(e.serverTimestamp),
      resource_id: e.resourceId,
      ...JSON.parse(e.detail),
    })),
    next_cursor: page.nextBeforeId === null ? null : String(page.nextBeforeId),
  });
});

function cursorId(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new AppError("VALIDATION_ERROR", "cursor: not a cursor this API returned", [
      { field: "query.cursor", issue: "invalid_cursor" },
    ]);
  }
  return Number(cursor);
}

/** CSV import of resources (`text/csv`, up to 5 MiB and 10,000 rows); `?dry_run=true` validates only. */
admin.post("/resources/import", async (c) => {
  const query = readQuery(c, ImportQuery);
  if (!/^text\/csv\s*(;|$)/i.test(c.req.header("Content-Type") ?? "")) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be text/csv.");
  }
  const result = await importResources(c, await c.req.text(), query.dry_run);
  if (!query.dry_run) {
    const counts = { created: result.created, unchanged: result.unchanged, failed: result.failed.length };
    const reason = `imported ${counts.created} created, ${counts.unchanged} unchanged, ${counts.failed} failed`;
    const action = { action: "resource.import", reason, before: null, after: counts };
    await recordAudit(c.env.DB, callerOf(c), action, Date.now());
  }
  return c.json(result, 200);
});

/** Issues a key; the plaintext is in this response only (only a hash is stored). */
admin.post("/api-keys", async (c) => {
  const body = await readJson(c, CreateApiKeyBody);
  const made = await createKey(c.env.DB, body.name, body.role, Date.now(), callerOf(c));
  return c.json({ ...apiKeyJson(made.record), key: made.key }, 201, {
    Location: `/admin/api-keys/${made.record.id}`,
  });
});

admin.get("/api-keys", async (c) => c.json({ items: (await listKeys(c.env.DB)).map(apiKeyJson) }));

/** Revokes a key: refused everywhere within the key cache's bound (30 s). */
admin.delete("/api-keys/:id", async (c) => {
  await readNoBody(c);
  const revoked = await revokeKey(c.env.DB, c.req.param("id"), Date.now(), callerOf(c));
  if (!revoked) throw new AppError("NOT_FOUND", "API key not found.");
  return c.json(apiKeyJson(revoked));
});

/** Maintenance mode: while on, writes answer 503 MAINTENANCE; it reaches every isolate within 5 s. */
admin.put("/maintenance", async (c) => {
  const body = await readJson(c, MaintenanceBody);
  const written = await writeMaintenance(c.env.DB, body.enabled, body.message, Date.now(), callerOf(c));
  return c.json(maintenanceJson(written));
});

admin.get("/maintenance", async (c) => c.json(maintenanceJson(await readMaintenance(c.env.DB, Date.now()))));

function maintenanceJson(m: { enabled: boolean; message: string | null; updatedAt: number | null }) {
  return { enabled: m.enabled, message: m.message, updated_at: iso(m.updatedAt) };
}

/** Reservations, rejections per code, cancellations and expired holds per day; utilization per resource type. */
admin.get("/analytics", async (c) => {
  const q = readQuery(c, AnalyticsQuery);
  return c.json(await analytics(c.env.DB, { from: q.from, to: q.to, type: q.type }));
});
