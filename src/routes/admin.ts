import { Hono } from "hono";
import { requireAdmin } from "../http/auth";
import { exportStream } from "../http/export-stream";
import { iso } from "../http/render";
import { ExportQuery, TimelineQuery } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readQuery } from "../http/validate";
import { resourceStub } from "../resource-object/address";
import { reservationPages } from "../storage/history";
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
    })),
    next_after_seq: page.nextAfterSeq,
  });
});

/** Reservations from the history database, streamed as NDJSON or CSV (RFC 4180), filtered by resource and time. */
admin.get("/reservations/export", (c) => {
  const query = readQuery(c, ExportQuery);
  const pages = reservationPages(c.env.DB, { resourceId: query.resource_id, from: query.from, to: query.to });
  const csv = query.format === "csv";
  return c.body(exportStream(pages, query.format), 200, {
    "Content-Type": csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
    "Content-Disposition": `attachment; filename="reservations.${query.format}"`,
  });
});
