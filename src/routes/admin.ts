import { z } from "zod";
import { oldestRetained } from "../cron/retention";
import { MAX_IMPORT_BYTES } from "../http/api-document";
import { requireAdmin } from "../http/auth";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { exportStream, primed } from "../http/export-stream";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import {
  AnalyticsQuery,
  CreateApiKeyBody,
  ExportQuery,
  ImportQuery,
  MaintenanceBody,
  PageQuery,
  TimelineQuery,
} from "../http/schemas";
import { resourceStub } from "../resource-object/address";
import { createKey, listKeys, revokeKey } from "../storage/api-keys";
import { auditPage, recordAudit } from "../storage/audit";
import { guarded } from "../storage/d1";
import {
  deadLetterPage,
  EXPORT_MAX_ROWS,
  type ExportPosition,
  exportBoundary,
  reservationPages,
} from "../storage/history";
import { readMaintenance, writeMaintenance } from "../storage/settings";
import { analytics } from "../storage/stats";
import { IMPORT_HEADER } from "../wire/csv-import";
import { timelineItemJson } from "../wire/past";
import { apiKeyJson, iso } from "../wire/render";
import { explain } from "./explain";
import { checkFile, importLater, importNow, MAX_IMPORT_ROWS, SYNC_IMPORT_ROWS } from "./import";
import { jobJson } from "./jobs";
import { knownResourceId, resourceNotFound } from "./resources";

export const admin = routesApp();
admin.use(requireAdmin);
admin.route("/", explain);

const at = (r: Omit<RouteSpec, "tag" | "access">) => route("/admin", { ...r, tag: "Admin", access: "admin" });

/** Every decision on a resource, rejections included, in `server_seq` order, from its Durable Object. */
const timeline = at({
  method: "get",
  path: "/resources/{id}/timeline",
  summary: "Every decision on a resource, in server_seq order",
  query: TimelineQuery,
  ok: { 200: { description: "A page of the timeline.", body: B.TimelinePage } },
  errors: ["NOT_FOUND", "UNAVAILABLE"],
});
admin.openapi(timeline, async (c) => {
  const query = valid(c, "query", TimelineQuery);
  const stub = resourceStub(c.env, knownResourceId(pathParam(c, "id")));
  const page = await stub.timeline({ afterSeq: query.after_seq, limit: query.limit });
  if (!page) throw resourceNotFound();
  return c.json({
    items: page.items.map(timelineItemJson),
    next_after_seq: page.nextAfterSeq,
  });
});

/** Reservations from the history database, streamed as NDJSON or CSV (RFC 4180), filtered by resource and time. */
const exported = at({
  method: "get",
  path: "/reservations/export",
  summary: "Export reservations, streamed",
  description: `Oldest first, at most ${EXPORT_MAX_ROWS.toLocaleString("en")} rows per response, so any history is exported within one invocation's limits: when more rows follow, \`X-Export-Cursor\` (and \`Link: rel="next"\`) say where to go on — pass it as \`cursor\` with the same filters. A download cut off part way resumes the same way from the last cursor received.`,
  query: ExportQuery,
  ok: {
    200: {
      description: "NDJSON, or CSV (RFC 4180, a header row first), one reservation per line.",
      body: {
        "application/x-ndjson": z.string().meta({ description: "One Reservation as JSON per line." }),
        "text/csv": z.string().meta({ description: "The Reservation fields as columns; metadata as JSON." }),
      },
      headers: ["Content-Disposition", "X-Export-Cursor", "Link", "X-History-Oldest"],
    },
  },
});
admin.openapi(exported, async (c) => {
  const query = valid(c, "query", ExportQuery);
  const filter = { resourceId: query.resource_id, from: query.from, to: query.to };
  const after = query.cursor === undefined ? null : exportPosition(query.cursor);
  // Each response is at most EXPORT_MAX_ROWS rows, so it stays within one invocation's budget; where it
  // ends is known before the first byte, so the cursor to resume from goes out as a header.
  const upTo = await exportBoundary(c.env.DB, filter, after);
  const pages = await primed(reservationPages(c.env.DB, filter, after, upTo));
  const csv = query.format === "csv";
  const oldest = await oldestRetained(guarded(c.env.DB));
  const headers: Record<string, string> = {
    "Content-Type": csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
    "Content-Disposition": `attachment; filename="reservations.${query.format}"`,
  };
  if (oldest !== null) headers["X-History-Oldest"] = iso(oldest) as string;
  if (upTo) {
    const cursor = exportCursor(upTo);
    const next = new URL(c.req.url);
    next.searchParams.set("cursor", cursor);
    headers["X-Export-Cursor"] = cursor;
    headers.Link = `<${next.pathname}${next.search}>; rel="next"`;
  }
  return c.body(exportStream(pages, query.format), 200, headers);
});

/** The opaque cursor of a position in the export (base64url JSON). */
function exportCursor(p: ExportPosition): string {
  return btoa(JSON.stringify([p.ts, p.id]))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

function exportPosition(cursor: string): ExportPosition {
  try {
    const [ts, id] = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    if (Number.isSafeInteger(ts) && typeof id === "string") return { ts, id };
  } catch {
    // not a cursor this API returned
  }
  throw new AppError("VALIDATION_ERROR", "cursor: not a cursor this API returned", [
    { field: "query.cursor", issue: "invalid_cursor" },
  ]);
}

/**
 * Every admin action, newest first (in the order it reached the log): keys,
 * maintenance and imports as they happen, resource actions as the objects'
 * decisions reach D1 (seconds behind). Decision 27.
 */
const audit = at({
  method: "get",
  path: "/audit",
  summary: "Admin actions, newest first",
  description:
    "Every admin action: resource changes, CSV imports (one entry with the counts), API keys issued and revoked, maintenance switched. Newest first in the order they reached the log (resource changes arrive with the history, seconds behind); `next_cursor` pages back.",
  query: PageQuery,
  ok: { 200: { description: "A page of actions.", body: B.AuditPage } },
});
admin.openapi(audit, async (c) => {
  const query = valid(c, "query", PageQuery);
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
const deadLetters = at({
  method: "get",
  path: "/dead-letters",
  summary: "Webhook events whose delivery gave up",
  query: PageQuery,
  ok: { 200: { description: "A page of events.", body: B.DeadLetterPage } },
});
admin.openapi(deadLetters, async (c) => {
  const query = valid(c, "query", PageQuery);
  const page = await deadLetterPage(c.env.DB, { beforeId: cursorId(query.cursor), limit: query.limit });
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

/**
 * CSV import of resources (`text/csv`, up to 5 MiB and 50,000 rows): up to 500 rows answered when done
 * (`200`), more (or `Prefer: respond-async`) as a job (`202`, GET /admin/jobs/{id}); `?dry_run=true`
 * validates only, always at once.
 */
const importCsv = at({
  method: "post",
  path: "/resources/import",
  summary: "Import resources from CSV (idempotent)",
  description: `Up to ${MAX_IMPORT_BYTES / 1024 / 1024} MiB and ${MAX_IMPORT_ROWS.toLocaleString("en")} rows. Files of up to ${SYNC_IMPORT_ROWS} data rows are applied before the answer (\`200\`); larger ones, or any sent with \`Prefer: respond-async\`, become a job (\`202\` with \`Location: /admin/jobs/{id}\`) applied in steps. \`dry_run=true\` validates only and always answers at once. The whole file is checked first: a broken CSV, a wrong header or too many rows is a \`400\` and nothing starts.`,
  query: ImportQuery,
  body: "csv",
  bodyDescription: `CSV (RFC 4180, Content-Type text/csv) with the header row \`${IMPORT_HEADER.join(",")}\` (the last column may be left out); each line as in POST /resources.`,
  ok: {
    200: { description: "What was created, unchanged or failed, by line.", body: B.ImportResult },
    202: { description: "The import job, applied in steps.", body: B.Job, headers: ["Location"] },
  },
  errors: ["UNAVAILABLE"],
});
admin.openapi(importCsv, async (c) => {
  const query = valid(c, "query", ImportQuery);
  if (!/^text\/csv\s*(;|$)/i.test(c.req.header("Content-Type") ?? "")) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be text/csv.");
  }
  const file = checkFile(c, await c.req.text());
  if (query.dry_run) {
    return c.json(
      { dry_run: true as const, valid: file.lines.length, created: 0, unchanged: 0, failed: file.invalid },
      200,
    );
  }
  const respondAsync = /(^|[\s,])respond-async($|[\s,;])/i.test(c.req.header("Prefer") ?? "");
  if (respondAsync || file.total > SYNC_IMPORT_ROWS) {
    const job = await importLater(c, file);
    return c.json(jobJson(job), 202, { Location: `/admin/jobs/${job.id}` });
  }
  const result = await importNow(c, file);
  const counts = { created: result.created, unchanged: result.unchanged, failed: result.failed.length };
  const reason = `imported ${counts.created} created, ${counts.unchanged} unchanged, ${counts.failed} failed`;
  await recordAudit(
    c.env.DB,
    callerOf(c),
    { action: "resource.import", reason, before: null, after: counts },
    Date.now(),
  );
  return c.json(result, 200);
});

/** Issues a key; the plaintext is in this response only (only a hash is stored). */
const issueKey = at({
  method: "post",
  path: "/api-keys",
  summary: "Issue an API key",
  body: CreateApiKeyBody,
  ok: {
    201: { description: "The key; its plaintext is shown only here.", body: B.ApiKeyCreated, headers: ["Location"] },
  },
});
admin.openapi(issueKey, async (c) => {
  const body = valid(c, "json", CreateApiKeyBody);
  const made = await createKey(c.env.DB, body.name, body.role, Date.now(), callerOf(c));
  return c.json({ ...apiKeyJson(made.record), key: made.key }, 201, {
    Location: `/admin/api-keys/${made.record.id}`,
  });
});

const listKeysRoute = at({
  method: "get",
  path: "/api-keys",
  summary: "List API keys (never their secrets)",
  ok: { 200: { description: "Every key.", body: B.ApiKeyList } },
});
admin.openapi(listKeysRoute, async (c) => c.json({ items: (await listKeys(c.env.DB)).map(apiKeyJson) }));

/** Revokes a key: refused everywhere within the key cache's bound (30 s). */
const revoke = at({
  method: "delete",
  path: "/api-keys/{id}",
  summary: "Revoke an API key",
  body: "none",
  ok: { 200: { description: "The revoked key.", body: B.ApiKey } },
  errors: ["NOT_FOUND"],
});
admin.openapi(revoke, async (c) => {
  const revoked = await revokeKey(c.env.DB, pathParam(c, "id"), Date.now(), callerOf(c));
  if (!revoked) throw new AppError("NOT_FOUND", "API key not found.");
  return c.json(apiKeyJson(revoked));
});

/** Maintenance mode: while on, writes answer 503 MAINTENANCE; it reaches every isolate within 5 s. */
const maintenance = { 200: { description: "The setting.", body: B.Maintenance } };
const setMaintenance = at({
  method: "put",
  path: "/maintenance",
  summary: "Turn maintenance mode on or off",
  description: "While on, every write but this one answers 503 MAINTENANCE (with Retry-After); reads go on.",
  body: MaintenanceBody,
  ok: maintenance,
});
admin.openapi(setMaintenance, async (c) => {
  const body = valid(c, "json", MaintenanceBody);
  const written = await writeMaintenance(c.env.DB, body.enabled, body.message, Date.now(), callerOf(c));
  return c.json(maintenanceJson(written));
});

const getMaintenance = at({ method: "get", path: "/maintenance", summary: "Maintenance mode", ok: maintenance });
admin.openapi(getMaintenance, async (c) => c.json(maintenanceJson(await readMaintenance(c.env.DB, Date.now()))));

function maintenanceJson(m: { enabled: boolean; message: string | null; updatedAt: number | null }) {
  return { enabled: m.enabled, message: m.message, updated_at: iso(m.updatedAt) };
}

/** Reservations, rejections per code, cancellations and expired holds per day; utilization per resource type. */
const analyticsRoute = at({
  method: "get",
  path: "/analytics",
  summary: "Reservation analytics from the history database",
  description:
    "Over a window of whole UTC days: `from` (default: 30 days before `to`) to `to` (default: now), at most 366 days. Read from daily totals kept as the history lands, so any window costs the same whatever the history's size.",
  query: AnalyticsQuery,
  ok: { 200: { description: "Per day, per rejection code and per resource type.", body: B.Analytics } },
});
admin.openapi(analyticsRoute, async (c) => {
  const q = valid(c, "query", AnalyticsQuery);
  const to = q.to ?? Date.now();
  const from = q.from ?? to - ANALYTICS_DEFAULT_DAYS * DAY_MS;
  if (to - from > ANALYTICS_MAX_DAYS * DAY_MS) {
    throw new AppError("VALIDATION_ERROR", `the window is at most ${ANALYTICS_MAX_DAYS} days`, [
      { field: "query.from", issue: "too_big" },
    ]);
  }
  return c.json(await analytics(c.env.DB, { from, to, type: q.type }));
});

const DAY_MS = 86_400_000;
const ANALYTICS_DEFAULT_DAYS = 30;
const ANALYTICS_MAX_DAYS = 366;
