/**
 * The OpenAPI 3.1 document: the routes as each route file declares them
 * (route-spec.ts), plus the parts they share by reference: headers, the
 * X-Request-Id parameter, the empty body and the bearer scheme.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { ACCEPTED_ID } from "./request-id";
import { ErrorBody, NARROWED_ERROR_BODIES } from "./responses";
import { ERROR_RESPONSES, TAGS } from "./route-spec";
import type { AppEnv } from "./types";
import { EmptyBody } from "./validate";

/** Request bodies: 64 KiB, 5 MiB for the CSV import (app.ts). */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

const header = (description: string, schema: object = { type: "string" }) => ({ description, schema });

const RESPONSE_HEADERS = {
  "X-Request-Id": header("The request's id, also in the logs and the timeline."),
  "Retry-After": header("Seconds to wait before retrying.", { type: "integer", minimum: 0 }),
  Location: header("The path of the created object."),
  ETag: header('The resource\'s version in quotes, e.g. "3"; send it back as If-Match.'),
  "Idempotent-Replayed": header("`true` when this is the stored reply to an earlier request with the same key.", {
    type: "string",
    const: "true",
  }),
  "WWW-Authenticate": header('The bearer challenge: Bearer realm="reservation-engine".'),
  "X-Cache-Status": header("HIT when every snapshot came from the cache.", { type: "string", enum: ["HIT", "MISS"] }),
  "Cache-Control": header(
    "`public, max-age=<TTL>` on availability; `no-cache` on this document; `no-store` on errors.",
  ),
  "Content-Disposition": header('`attachment; filename="reservations.<format>"`.'),
  "X-Export-Cursor": header(
    "Sent when more rows follow this response (each is at most 20,000 rows): pass it back as `cursor` to go on.",
  ),
  Link: header('The next part of the export, `<…&cursor=…>; rel="next"`, when more rows follow.'),
  "X-History-Oldest": header(
    "The oldest decision D1 still holds (ISO time; absent when it holds none): older ones are in R2 only.",
  ),
};

/**
 * Adds the shared components to the root app's registry. The error responses
 * are those the route files declared when they were loaded (before any app).
 */
export function registerShared(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  for (const [name, response] of ERROR_RESPONSES) registry.registerComponent("responses", name, response);
  for (const [name, schema] of NARROWED_ERROR_BODIES) registry.register(name, schema);
  for (const [name, value] of Object.entries(RESPONSE_HEADERS)) registry.registerComponent("headers", name, value);
  registry.registerComponent("parameters", "X-Request-Id", {
    name: "X-Request-Id",
    in: "header",
    required: false,
    description: "Reused as the request's id when it matches the pattern (X-Correlation-Id too); else a UUID.",
    schema: { type: "string", pattern: ACCEPTED_ID.source },
  });
  registry.register("EmptyBody", EmptyBody);
  // The full error body, whatever the code; each response names its own narrowed copy.
  registry.register("Error", ErrorBody);
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "An API key: the ADMIN_TOKEN or a key issued by POST /admin/api-keys (role admin or client). While the key store (D1) is down, a key verified in the last 15 minutes keeps working and any other gets 503 UNAVAILABLE, not 401.",
  });
}

const DESCRIPTION = [
  "Strong-consistency reservations: one Durable Object per resource, never overbooked.",
  `Request bodies: JSON (Content-Type: application/json, else 415), at most ${MAX_BODY_BYTES / 1024} KiB (${MAX_IMPORT_BYTES / 1024 / 1024} MiB for the CSV import, text/csv); larger ones get 413. Unknown fields are refused (400).`,
  "Every error has the same body (the Error schema) and `Cache-Control: no-store`; 429 and 503 carry Retry-After.",
  "Idempotency keys are scoped to the caller, the route and the resource (the resource's Durable Object keeps them with its decisions).",
].join("\n\n");

/** The document of every route declared on `app` (and the apps mounted on it). */
export function apiDocument(app: OpenAPIHono<AppEnv>) {
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.1",
    info: { title: "Reservation Engine", version: "1.0.0", description: DESCRIPTION },
    servers: [{ url: "/" }],
    tags: TAGS.map((name) => ({ name })),
    security: [{ bearer: [] }],
  });
  // Generators read `webhooks: {}` as a section without entries; leave it out.
  const { webhooks: _none, ...rest } = doc as typeof doc & { webhooks?: unknown };
  return rest;
}

export type ApiDocument = ReturnType<typeof apiDocument>;
