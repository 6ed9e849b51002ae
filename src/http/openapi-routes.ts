/**
 * The route table of the HTTP API, from which openapi.ts builds the OpenAPI
 * document. Queries and bodies are the zod schemas that validate requests
 * (schemas.ts). A test checks that every route the app serves is listed here.
 */
import type { z } from "zod";
import type { ErrorCode } from "../domain/errors";
import type { RESPONSE_HEADERS, ResponseBody } from "./openapi-components";
import * as S from "./schemas";
import { EmptyBody } from "./validate";

export type Tag = "Reservations" | "Waiting list" | "Availability" | "Resources" | "Admin" | "Operations" | "Reference";
export const TAGS: Tag[] = [
  "Reservations",
  "Waiting list",
  "Availability",
  "Resources",
  "Admin",
  "Operations",
  "Reference",
];

/** The JSON request bodies, by component name. `EmptyBody`: no body, or `{}`. */
export const REQUEST_BODIES = {
  CreateResourceBody: S.CreateResourceBody,
  UpdateResourceBody: S.UpdateResourceBody,
  CreateReservationBody: S.CreateReservationBody,
  JoinWaitingListBody: S.JoinWaitingListBody,
  LeaveWaitingListBody: S.LeaveWaitingListBody,
  CreateApiKeyBody: S.CreateApiKeyBody,
  MaintenanceBody: S.MaintenanceBody,
  ReconciliationBody: S.ReconciliationBody,
  EmptyBody,
};

export interface RouteDoc {
  /** The method and the path in OpenAPI form: "GET /resources/{id}". */
  route: string;
  summary: string;
  tag: Tag;
  /** Who may call it: anyone, an admin key, or an admin or client key. */
  auth: "public" | "admin" | "client";
  query?: z.ZodType;
  /** A JSON body by component name, or a CSV upload. */
  body?: keyof typeof REQUEST_BODIES | "csv";
  /** Accepts `Idempotency-Key`. */
  idempotent?: true;
  /** Accepts `If-Match`. */
  ifMatch?: true;
  /** Success statuses and what they mean. */
  ok: Record<number, string>;
  /** The success body: component names (one of them), or media types whose body the description tells. */
  returns: ResponseBody | MediaType | ResponseBody[] | MediaType[];
  /** Headers on success besides X-Request-Id (and Idempotent-Replayed where idempotent). */
  okHeaders?: (keyof typeof RESPONSE_HEADERS)[];
  /** The route's own error codes; the builder adds those its auth, inputs and method imply. */
  errors?: ErrorCode[];
  description?: string;
}

type MediaType = `${string}/${string}`;

/** Routes answered by a resource's Durable Object: unknown ids, and an overloaded object. */
const DO: ErrorCode[] = ["NOT_FOUND", "UNAVAILABLE"];
const REFUSED: ErrorCode[] = ["RESOURCE_FULL", "RESOURCE_CLOSED", "INVALID_STATE"];

const tagged = (tag: Tag, routes: Omit<RouteDoc, "tag">[]): RouteDoc[] => routes.map((r) => ({ ...r, tag }));

// biome-ignore format: a table, one route per entry
export const ROUTES: RouteDoc[] = [
  ...tagged("Reservations", [
    { route: "POST /reservations", summary: "Reserve: confirm now, or hold until expires_at", auth: "client",
      body: "CreateReservationBody", idempotent: true, ok: { 201: "Reserved." }, returns: "Reservation", okHeaders: ["Location"], errors: [...DO, ...REFUSED] },
    { route: "GET /reservations/{id}", summary: "Get a reservation", auth: "client",
      ok: { 200: "The reservation." }, returns: "Reservation", errors: DO },
    { route: "POST /reservations/{id}/confirm", summary: "Confirm a hold", auth: "client",
      body: "EmptyBody", idempotent: true, ok: { 200: "Confirmed (or already confirmed)." }, returns: "Reservation", errors: [...DO, "INVALID_STATE"] },
    { route: "POST /reservations/{id}/cancel", summary: "Cancel, releasing the capacity", auth: "client",
      body: "EmptyBody", idempotent: true, ok: { 200: "Cancelled (or already cancelled)." }, returns: "Reservation", errors: [...DO, "INVALID_STATE"] },
    { route: "POST /reservations/{id}/check-in", summary: "Check in at the door, exactly once", auth: "client",
      body: "EmptyBody", ok: { 200: "Checked in." }, returns: "Reservation", errors: [...DO, "INVALID_STATE"] },
  ]),
  ...tagged("Waiting list", [
    { route: "POST /waiting-list/join", summary: "Join a resource's waiting list", auth: "client",
      body: "JoinWaitingListBody", idempotent: true, ok: { 201: "Joined: WAITING, or NOTIFIED when places were free (notified in the same step).", 200: "Already waiting or notified: the existing entry." },
      returns: "WaitingListEntry", okHeaders: ["Location"], errors: [...DO, "INVALID_STATE"],
      description: "A quantity above the resource's capacity or max_quantity_per_reservation could never book: 400 VALIDATION_ERROR (details[].field quantity). A notification is an offer, not a hold: it counts only while its places exist and lapses at offer_expires_at (waiting_list_offer_ttl_seconds after it was made); the entry is then EXPIRED and may join again." },
    { route: "GET /waiting-list/{id}", summary: "Get a waiting-list entry and its position", auth: "client",
      ok: { 200: "The entry." }, returns: "WaitingListEntry", errors: DO },
    { route: "DELETE /waiting-list/{id}", summary: "Leave the waiting list", auth: "client",
      body: "EmptyBody", ok: { 200: "Left (status LEFT)." }, returns: "WaitingListEntry", errors: DO },
    { route: "DELETE /waiting-list/leave", summary: "Leave the waiting list, the entry id in the body", auth: "client",
      body: "LeaveWaitingListBody", ok: { 200: "Left (status LEFT)." }, returns: "WaitingListEntry", errors: DO },
  ]),
  ...tagged("Availability", [
    { route: "GET /availability", summary: "Optimistic availability of one or many resources", auth: "public",
      query: S.AvailabilityQuery, ok: { 200: "One snapshot (resource_id), or one per known id (resource_ids)." },
      returns: ["Availability", "AvailabilityList"], okHeaders: ["X-Cache-Status", "Cache-Control"], errors: ["NOT_FOUND", "RATE_LIMITED", "UNAVAILABLE"],
      description: "Give exactly one of `resource_id` and `resource_ids` (comma separated, up to 100). It may lag the truth by the cache TTL and never commits anything." },
  ]),
  ...tagged("Resources", [
    { route: "POST /resources", summary: "Create a resource", auth: "admin",
      body: "CreateResourceBody", idempotent: true, ok: { 201: "Created." }, returns: "Resource", okHeaders: ["Location", "ETag"],
      errors: ["RESOURCE_EXISTS", "UNAVAILABLE"] },
    { route: "GET /resources", summary: "List resources (may lag by seconds)", auth: "admin",
      query: S.ListResourcesQuery, ok: { 200: "A page, ordered by id." }, returns: "ResourcePage" },
    { route: "GET /resources/{id}", summary: "Get a resource (authoritative)", auth: "admin",
      ok: { 200: "The resource." }, returns: "Resource", okHeaders: ["ETag"], errors: DO },
    { route: "PATCH /resources/{id}", summary: "Change rules or metadata", auth: "admin",
      body: "UpdateResourceBody", ifMatch: true, ok: { 200: "The changed resource." }, returns: "Resource", okHeaders: ["ETag"],
      errors: [...DO, "INVALID_STATE"], description: "Lowering capacity below confirmed + held is a 409 INVALID_STATE and changes nothing." },
    { route: "POST /resources/{id}/close", summary: "Close a resource (idempotent)", auth: "admin",
      body: "EmptyBody", ok: { 200: "The closed resource." }, returns: "Resource", okHeaders: ["ETag"], errors: DO },
    { route: "POST /resources/{id}/reopen", summary: "Reopen a resource (idempotent)", auth: "admin",
      body: "EmptyBody", ok: { 200: "The open resource." }, returns: "Resource", okHeaders: ["ETag"], errors: DO },
  ]),
  ...tagged("Admin", [
    { route: "GET /admin/resources/{id}/timeline", summary: "Every decision on a resource, in server_seq order", auth: "admin",
      query: S.TimelineQuery, ok: { 200: "A page of the timeline." }, returns: "TimelinePage", errors: DO },
    { route: "GET /admin/audit", summary: "Admin actions, newest first", auth: "admin",
      query: S.PageQuery, ok: { 200: "A page of actions." }, returns: "AuditPage",
      description: "Every admin action: resource changes, CSV imports (one entry with the counts), API keys issued and revoked, maintenance switched. Newest first in the order they reached the log (resource changes arrive with the history, seconds behind); `next_cursor` pages back." },
    { route: "GET /admin/dead-letters", summary: "Webhook events whose delivery gave up", auth: "admin",
      query: S.PageQuery, ok: { 200: "A page of events." }, returns: "DeadLetterPage" },
    { route: "GET /admin/reservations/export", summary: "Export reservations, streamed", auth: "admin",
      query: S.ExportQuery, ok: { 200: "NDJSON, or CSV (RFC 4180), one reservation per line." }, returns: ["application/x-ndjson", "text/csv"] },
    { route: "POST /admin/resources/import", summary: "Import resources from CSV (idempotent)", auth: "admin",
      query: S.ImportQuery, body: "csv", ok: { 200: "What was created, unchanged or failed, by line." }, returns: "ImportResult",
      errors: ["UNAVAILABLE"], description: "Up to 5 MiB and 10,000 rows; `dry_run=true` validates only." },
    { route: "POST /admin/api-keys", summary: "Issue an API key", auth: "admin",
      body: "CreateApiKeyBody", ok: { 201: "The key; its plaintext is shown only here." }, returns: "ApiKeyCreated", okHeaders: ["Location"] },
    { route: "GET /admin/api-keys", summary: "List API keys (never their secrets)", auth: "admin",
      ok: { 200: "Every key." }, returns: "ApiKeyList" },
    { route: "DELETE /admin/api-keys/{id}", summary: "Revoke an API key", auth: "admin",
      body: "EmptyBody", ok: { 200: "The revoked key." }, returns: "ApiKey", errors: ["NOT_FOUND"] },
    { route: "GET /admin/maintenance", summary: "Maintenance mode", auth: "admin",
      ok: { 200: "The current setting." }, returns: "Maintenance" },
    { route: "PUT /admin/maintenance", summary: "Turn maintenance mode on or off", auth: "admin",
      body: "MaintenanceBody", ok: { 200: "The new setting." }, returns: "Maintenance",
      description: "While on, every write but this one answers 503 MAINTENANCE; reads go on." },
    { route: "GET /admin/reconciliation", summary: "The last reconciliation of the history with the objects", auth: "admin",
      ok: { 200: "The last run (null before the first) and dead-lettered history messages not reconciled yet." }, returns: "ReconciliationStatus" },
    { route: "POST /admin/reconciliation", summary: "Reconcile the history with the objects now", auth: "admin",
      body: "ReconciliationBody", ok: { 200: "The run: resources checked, gaps found and repaired, disagreements." }, returns: "ReconciliationRun",
      description: "Without `resource_ids`: every resource that received decisions since the last scheduled run (gaps), and the 1,000 most recently active (a lost tail). Gaps are re-sent from the objects; only decisions really missing count as repaired." },
    { route: "GET /admin/analytics", summary: "Reservation analytics from the history database", auth: "admin",
      query: S.AnalyticsQuery, ok: { 200: "Per day, per rejection code and per resource type." }, returns: "Analytics" },
  ]),
  ...tagged("Operations", [
    { route: "GET /health", summary: "Liveness", auth: "public", ok: { 200: "The Worker runs." }, returns: "Health" },
    { route: "GET /ready", summary: "Readiness of D1, KV and a Durable Object", auth: "public",
      ok: { 200: "Every dependency answered." }, returns: "Ready", errors: ["UNAVAILABLE"],
      description: "A 503 names each dependency that failed in `details`." },
    { route: "GET /metrics", summary: "Prometheus metrics", auth: "admin", ok: { 200: "Prometheus text format." }, returns: "text/plain" },
  ]),
  ...tagged("Reference", [
    { route: "GET /openapi.json", summary: "This document", auth: "public", ok: { 200: "OpenAPI 3.1." }, returns: "application/json" },
    { route: "GET /docs", summary: "Interactive reference", auth: "public",
      ok: { 200: "Swagger UI on /openapi.json; its files are static assets of this Worker (/docs/*): nothing comes from elsewhere." }, returns: "text/html" },
  ]),
];
