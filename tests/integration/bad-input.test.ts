import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createResource, reserve, uniqueId } from "../helpers";

/**
 * Bad requests of every kind get the documented 4xx with the documented error
 * body, never a 5xx, never a leak of internals, and never change anything.
 */

type ErrorCode = "VALIDATION_ERROR" | "UNAUTHENTICATED" | "NOT_FOUND" | "PAYLOAD_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE";

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

/** What the rows need to know about the world set up before them. */
interface Fixture {
  /** The resource (capacity 5) whose state must not change. */
  resourceId: string;
  /** Its one valid reservation. */
  reservationId: string;
  /** A second, untouched resource, to forge reservation ids against. */
  otherResourceId: string;
}

interface Row {
  name: string;
  code: ErrorCode;
  send: (f: Fixture) => Promise<Response>;
  /** For VALIDATION_ERROR: a `details[].field` that must be present. */
  field?: string;
  /** An `X-Request-Id` the row sends; `reused` says whether the response must echo it. */
  requestId?: { sent: string; reused: boolean };
}

const JSON_TYPE = { "Content-Type": "application/json" };
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A raw (possibly malformed) JSON body, sent with an application/json Content-Type. */
function rawJson(method: string, path: string, raw: string, headers: Record<string, string> = {}) {
  return call(method, path, { raw, headers: { ...JSON_TYPE, ...headers } });
}

/** A request built by hand, for what `call` cannot express (no Content-Type at all, explicit Content-Length). */
function send(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> }) {
  const headers = { Authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers };
  return exports.default.fetch(new Request(`http://engine.test${path}`, { method, headers, body: init.body }));
}

function base64url(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The random part of a reservation id (`rsv_<resource>.<random>`). */
function randomPart(reservationId: string): string {
  return reservationId.split(".")[1] ?? "";
}

const validResource = { type: "session", capacity: 5 };
const validReservation = (f: Fixture) => ({ resource_id: f.resourceId, client_id: "client-bad-input", quantity: 1 });
const timeline = (f: Fixture, query: string) => call("GET", `/admin/resources/${f.resourceId}/timeline${query}`);

/** Nested JSON arrays, `depth` levels deep, as text (JSON.stringify would not build it cheaply). */
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

const rows: Row[] = [
  // --- Body shape -----------------------------------------------------------
  {
    name: "invalid JSON",
    code: "VALIDATION_ERROR",
    field: "body",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id": "${f.resourceId}", "client_id": `),
  },
  { name: "empty body", code: "VALIDATION_ERROR", field: "body", send: () => rawJson("POST", "/reservations", "") },
  {
    name: "empty body on POST /resources",
    code: "VALIDATION_ERROR",
    field: "body",
    send: () => rawJson("POST", "/resources", ""),
  },
  {
    name: "JSON array body",
    code: "VALIDATION_ERROR",
    field: "body",
    send: () => rawJson("POST", "/reservations", "[]"),
  },
  {
    name: "JSON array holding a valid body",
    code: "VALIDATION_ERROR",
    field: "body",
    send: (f) => call("POST", "/reservations", { body: [validReservation(f)] }),
  },
  {
    name: "JSON string body",
    code: "VALIDATION_ERROR",
    field: "body",
    send: () => rawJson("POST", "/resources", '"session"'),
  },
  {
    name: "JSON null body",
    code: "VALIDATION_ERROR",
    field: "body",
    send: () => rawJson("POST", "/reservations", "null"),
  },
  {
    name: "JSON number body",
    code: "VALIDATION_ERROR",
    field: "body",
    send: () => rawJson("POST", "/resources", "42"),
  },
  {
    name: "empty object",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: () => call("POST", "/reservations", { body: {} }),
  },

  // --- Quantity -------------------------------------------------------------
  {
    name: "quantity negative",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: -1 }),
  },
  {
    name: "quantity zero",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 0 }),
  },
  {
    name: "quantity negative zero",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":-0}`),
  },
  {
    name: "quantity fractional",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 1.5 }),
  },
  {
    name: "quantity as a string number",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: "2" }),
  },
  {
    name: 'quantity "NaN"',
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: "NaN" }),
  },
  {
    name: "quantity bare NaN (not JSON)",
    code: "VALIDATION_ERROR",
    field: "body",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":NaN}`),
  },
  {
    name: "quantity 1e400 (parses to Infinity)",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":1e400}`),
  },
  {
    name: "quantity 1e308",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 1e308 }),
  },
  {
    name: "quantity 10000001",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 10_000_001 }),
  },
  {
    name: "quantity above the largest safe integer",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) =>
      rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":9007199254740993}`),
  },
  {
    name: "quantity null",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: null }),
  },
  {
    name: "quantity boolean",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: true }),
  },
  {
    name: "hold as a string",
    code: "VALIDATION_ERROR",
    field: "hold",
    send: (f) => reserve(f.resourceId, { hold: "true" }),
  },

  // --- Resource fields ------------------------------------------------------
  {
    name: "capacity negative",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: -1 } }),
  },
  {
    name: "capacity 1000001",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: 1_000_001 } }),
  },
  {
    name: "capacity fractional",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: 2.5 } }),
  },
  {
    name: "capacity as a string",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: "5" } }),
  },
  {
    name: "capacity missing",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { type: "session" } }),
  },
  {
    name: "hold_ttl_seconds below 30",
    code: "VALIDATION_ERROR",
    field: "hold_ttl_seconds",
    send: () => call("POST", "/resources", { body: { ...validResource, hold_ttl_seconds: 29 } }),
  },
  {
    name: "max_quantity_per_reservation zero",
    code: "VALIDATION_ERROR",
    field: "max_quantity_per_reservation",
    send: () => call("POST", "/resources", { body: { ...validResource, max_quantity_per_reservation: 0 } }),
  },
  {
    name: "waiting_list_enabled as a string",
    code: "VALIDATION_ERROR",
    field: "waiting_list_enabled",
    send: () => call("POST", "/resources", { body: { ...validResource, waiting_list_enabled: "yes" } }),
  },
  {
    name: "type empty",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "" } }),
  },
  {
    name: "type 65 characters",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "t".repeat(65) } }),
  },
  {
    name: "type a number",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: 7 } }),
  },
  {
    name: "booking_opens_at after booking_closes_at",
    code: "VALIDATION_ERROR",
    field: "booking_closes_at",
    send: () =>
      call("POST", "/resources", {
        body: {
          ...validResource,
          booking_opens_at: "2027-01-02T00:00:00.000Z",
          booking_closes_at: "2027-01-01T00:00:00.000Z",
        },
      }),
  },
  {
    name: "booking_opens_at equal to booking_closes_at",
    code: "VALIDATION_ERROR",
    field: "booking_closes_at",
    send: () =>
      call("POST", "/resources", {
        body: {
          ...validResource,
          booking_opens_at: "2027-01-01T00:00:00.000Z",
          booking_closes_at: "2027-01-01T00:00:00.000Z",
        },
      }),
  },
  {
    name: "booking_opens_at not a date (Feb 30)",
    code: "VALIDATION_ERROR",
    field: "booking_opens_at",
    send: () => call("POST", "/resources", { body: { ...validResource, booking_opens_at: "2027-02-30T00:00:00Z" } }),
  },
  {
    name: "booking_closes_at as epoch milliseconds",
    code: "VALIDATION_ERROR",
    field: "booking_closes_at",
    send: () => call("POST", "/resources", { body: { ...validResource, booking_closes_at: 1_800_000_000_000 } }),
  },

  // --- Unknown fields -------------------------------------------------------
  {
    name: "unknown top-level field on a reservation",
    code: "VALIDATION_ERROR",
    field: "qty",
    send: (f) => reserve(f.resourceId, { qty: 2 }),
  },
  {
    name: "unknown top-level field on a resource (typo)",
    code: "VALIDATION_ERROR",
    field: "capacty",
    send: () => call("POST", "/resources", { body: { ...validResource, capacty: 9 } }),
  },
  {
    name: "__proto__ as a top-level field",
    code: "VALIDATION_ERROR",
    field: "__proto__",
    send: (f) =>
      rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","__proto__":{"quantity":3}}`),
  },

  // --- Resource ids in the body -----------------------------------------------
  {
    name: "resource_id 65 characters",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `a${"b".repeat(64)}` }),
  },
  {
    name: "resource_id with a leading dash",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `-${f.resourceId}` }),
  },
  {
    name: "resource_id with a slash",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `${f.resourceId}/x` }),
  },
  {
    name: "resource_id dot-dot traversal",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `../../${f.resourceId}` }),
  },
  {
    name: "resource_id with unicode",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: "café-2026" }),
  },
  {
    name: "resource_id empty",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: "" }),
  },
  {
    name: "resource_id with a trailing newline",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `${f.resourceId}\n` }),
  },
  {
    name: "resource_id a number",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: 12345 }),
  },
  {
    name: "resource id with dot-dot on POST /resources",
    code: "VALIDATION_ERROR",
    field: "id",
    send: () => call("POST", "/resources", { body: { ...validResource, id: "../etc" } }),
  },
  {
    name: "resource id with a leading underscore on POST /resources",
    code: "VALIDATION_ERROR",
    field: "id",
    send: () => call("POST", "/resources", { body: { ...validResource, id: "_hidden" } }),
  },
  {
    name: "unknown (well-formed) resource_id",
    code: "NOT_FOUND",
    send: (f) => reserve(f.resourceId, { resource_id: uniqueId("missing") }),
  },

  // --- Text fields: control characters and lone surrogates ---------------------
  {
    name: "client_id with NUL",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\u0000831" }),
  },
  {
    name: "client_id with a newline (log injection)",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: 'user\n{"level":"error"}' }),
  },
  {
    name: "client_id with DEL",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\u007f" }),
  },
  {
    name: "client_id with a C1 control (NEL)",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\u0085" }),
  },
  {
    name: "client_id with a lone high surrogate",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\ud800" }),
  },
  {
    name: "client_id with a lone low surrogate",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "\udc00user" }),
  },
  {
    name: "client_id empty",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "" }),
  },
  {
    name: "client_id 129 characters",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "c".repeat(129) }),
  },
  {
    name: "type with a tab",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "ses\tsion" } }),
  },
  {
    name: "type with a lone surrogate",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "session\udfff" } }),
  },

  // --- Metadata -------------------------------------------------------------
  {
    name: "reservation metadata over 4 KiB",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: { note: "x".repeat(4097) } }),
  },
  {
    name: "resource metadata over 4 KiB",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: () => call("POST", "/resources", { body: { ...validResource, metadata: { note: "x".repeat(4097) } } }),
  },
  {
    name: "metadata over 4 KiB counted in UTF-8 bytes (1366 × '€')",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: { n: "€".repeat(1366) } }),
  },
  {
    name: "metadata an array",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: ["a"] }),
  },
  {
    name: "metadata null",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: null }),
  },
  // Deep nesting must be a 400, never a stack overflow (it once was a 500).
  {
    name: "reservation metadata nested 1500 levels deep (3 KB, under 4 KiB)",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) =>
      rawJson(
        "POST",
        "/reservations",
        `{"resource_id":"${f.resourceId}","client_id":"c","metadata":{"a":${nested(1_500)}}}`,
      ),
  },
  {
    name: "reservation metadata nested 20000 levels deep (40 KB, over 4 KiB)",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) =>
      rawJson(
        "POST",
        "/reservations",
        `{"resource_id":"${f.resourceId}","client_id":"c","metadata":{"a":${nested(20_000)}}}`,
      ),
  },
  {
    name: "resource metadata nested 20000 levels deep (40 KB, over 4 KiB)",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: () => rawJson("POST", "/resources", `{"type":"session","capacity":5,"metadata":{"a":${nested(20_000)}}}`),
  },

  // --- Body size and Content-Type ----------------------------------------------
  {
    name: "body over 64 KiB",
    code: "PAYLOAD_TOO_LARGE",
    send: (f) => reserve(f.resourceId, { metadata: { blob: "x".repeat(70_000) } }),
  },
  {
    name: "body over 64 KiB declared by Content-Length",
    code: "PAYLOAD_TOO_LARGE",
    send: (f) => {
      const body = JSON.stringify({ ...validReservation(f), metadata: { blob: "x".repeat(70_000) } });
      return send("POST", "/reservations", { body, headers: { ...JSON_TYPE, "Content-Length": String(body.length) } });
    },
  },
  {
    name: "body over 64 KiB on POST /resources/{id}/close",
    code: "PAYLOAD_TOO_LARGE",
    send: (f) => rawJson("POST", `/resources/${f.resourceId}/close`, "x".repeat(70_000)),
  },
  {
    name: "Content-Type text/plain with a valid JSON body",
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: (f) =>
      call("POST", "/reservations", { body: validReservation(f), headers: { "Content-Type": "text/plain" } }),
  },
  {
    name: "Content-Type missing",
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: (f) => send("POST", "/reservations", { body: new TextEncoder().encode(JSON.stringify(validReservation(f))) }),
  },
  {
    name: "Content-Type application/jsonx",
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: () => call("POST", "/resources", { body: validResource, headers: { "Content-Type": "application/jsonx" } }),
  },
  {
    name: "Content-Type form-urlencoded",
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: (f) =>
      call("POST", "/reservations", {
        raw: `resource_id=${f.resourceId}&client_id=c`,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      }),
  },

  // --- Idempotency-Key -------------------------------------------------------
  {
    name: "Idempotency-Key of 300 characters",
    code: "VALIDATION_ERROR",
    field: "header.Idempotency-Key",
    send: (f) => reserve(f.resourceId, {}, { "Idempotency-Key": "k".repeat(300) }),
  },
  {
    name: "Idempotency-Key with a non-ASCII character",
    code: "VALIDATION_ERROR",
    field: "header.Idempotency-Key",
    send: (f) => reserve(f.resourceId, {}, { "Idempotency-Key": "clé-1" }),
  },
  {
    name: "Idempotency-Key with a tab",
    code: "VALIDATION_ERROR",
    field: "header.Idempotency-Key",
    send: (f) => reserve(f.resourceId, {}, { "Idempotency-Key": "key\twith-tab" }),
  },
  {
    name: "Idempotency-Key empty",
    code: "VALIDATION_ERROR",
    field: "header.Idempotency-Key",
    send: (f) => reserve(f.resourceId, {}, { "Idempotency-Key": "" }),
  },
  {
    name: "Idempotency-Key of 300 characters on POST /resources",
    code: "VALIDATION_ERROR",
    field: "header.Idempotency-Key",
    send: () => call("POST", "/resources", { body: validResource, headers: { "Idempotency-Key": "k".repeat(300) } }),
  },

  // --- Authentication ---------------------------------------------------------
  {
    name: "missing Authorization on POST /reservations",
    code: "UNAUTHENTICATED",
    send: (f) => call("POST", "/reservations", { body: validReservation(f), auth: null }),
  },
  {
    name: "missing Authorization on POST /resources",
    code: "UNAUTHENTICATED",
    send: () => call("POST", "/resources", { body: validResource, auth: null }),
  },
  {
    name: "missing Authorization on GET /resources/{id}",
    code: "UNAUTHENTICATED",
    send: (f) => call("GET", `/resources/${f.resourceId}`, { auth: null }),
  },
  {
    name: "missing Authorization on GET /reservations/{id}",
    code: "UNAUTHENTICATED",
    send: (f) => call("GET", `/reservations/${f.reservationId}`, { auth: null }),
  },
  {
    name: "missing Authorization on POST /resources/{id}/close",
    code: "UNAUTHENTICATED",
    send: (f) => call("POST", `/resources/${f.resourceId}/close`, { auth: null }),
  },
  {
    name: "missing Authorization on the timeline",
    code: "UNAUTHENTICATED",
    send: (f) => call("GET", `/admin/resources/${f.resourceId}/timeline`, { auth: null }),
  },
  {
    name: "missing Authorization beats an invalid body",
    code: "UNAUTHENTICATED",
    send: () => call("POST", "/reservations", { raw: "{", headers: JSON_TYPE, auth: null }),
  },
  {
    name: "wrong bearer key",
    code: "UNAUTHENTICATED",
    send: (f) => call("POST", "/reservations", { body: validReservation(f), auth: "not-the-admin-token-at-all" }),
  },
  {
    name: "wrong bearer key that is a prefix of the real one",
    code: "UNAUTHENTICATED",
    send: (f) => call("POST", `/resources/${f.resourceId}/close`, { auth: ADMIN_TOKEN.slice(0, -1) }),
  },
  {
    name: 'Authorization "Basic xyz"',
    code: "UNAUTHENTICATED",
    send: (f) => call("GET", `/resources/${f.resourceId}`, { auth: null, headers: { Authorization: "Basic xyz" } }),
  },
  {
    name: 'Authorization "Bearer" with no token',
    code: "UNAUTHENTICATED",
    send: (f) =>
      call("POST", "/reservations", { body: validReservation(f), auth: null, headers: { Authorization: "Bearer" } }),
  },
  {
    name: 'Authorization "Bearer " + key + " extra"',
    code: "UNAUTHENTICATED",
    send: (f) =>
      call("POST", `/resources/${f.resourceId}/close`, {
        auth: null,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN} extra` },
      }),
  },
  {
    name: "Authorization with the bare key and no scheme",
    code: "UNAUTHENTICATED",
    send: (f) =>
      call("GET", `/admin/resources/${f.resourceId}/timeline`, { auth: null, headers: { Authorization: ADMIN_TOKEN } }),
  },
  {
    name: "unauthenticated, with an unsafe X-Request-Id (a fresh id is used)",
    code: "UNAUTHENTICATED",
    requestId: { sent: "evil id\twith spaces", reused: false },
    send: (f) =>
      call("GET", `/resources/${f.resourceId}`, { auth: null, headers: { "X-Request-Id": "evil id\twith spaces" } }),
  },
  {
    name: "unauthenticated, with a safe X-Request-Id (reused)",
    code: "UNAUTHENTICATED",
    requestId: { sent: "trace:bad-input.1", reused: true },
    send: (f) =>
      call("GET", `/resources/${f.resourceId}`, {
        auth: "wrong-wrong-wrong",
        headers: { "X-Request-Id": "trace:bad-input.1" },
      }),
  },

  // --- Bad ids in paths --------------------------------------------------------
  {
    name: "GET /resources/..%2F..%2Fetc",
    code: "NOT_FOUND",
    send: () => call("GET", "/resources/..%2F..%2Fetc"),
  },
  {
    name: "GET /resources/{id} with a trailing %0A",
    code: "NOT_FOUND",
    send: (f) => call("GET", `/resources/${f.resourceId}%0A`),
  },
  {
    name: "GET /resources/{id} with unicode",
    code: "NOT_FOUND",
    send: () => call("GET", "/resources/caf%C3%A9"),
  },
  {
    name: "GET /resources/{id} with a malformed percent escape",
    code: "NOT_FOUND",
    send: () => call("GET", "/resources/%E0%A4%A"),
  },
  {
    name: "GET /resources/{id} 65 characters",
    code: "NOT_FOUND",
    send: () => call("GET", `/resources/a${"b".repeat(64)}`),
  },
  {
    name: "POST /resources/..%2F..%2Fetc/close",
    code: "NOT_FOUND",
    send: () => call("POST", "/resources/..%2F..%2Fetc/close"),
  },
  {
    name: "POST /resources/{unknown id}/close",
    code: "NOT_FOUND",
    send: () => call("POST", `/resources/${uniqueId("missing")}/close`),
  },
  {
    name: "POST /resources/{id with leading dash}/close",
    code: "NOT_FOUND",
    send: (f) => call("POST", `/resources/-${f.resourceId}/close`),
  },
  {
    name: "GET /reservations/not-an-id",
    code: "NOT_FOUND",
    send: () => call("GET", "/reservations/not-an-id"),
  },
  {
    name: "GET /reservations/rsv_ (prefix only)",
    code: "NOT_FOUND",
    send: () => call("GET", "/reservations/rsv_"),
  },
  {
    name: "reservation id with a forged resource part (another resource)",
    code: "NOT_FOUND",
    send: (f) => call("GET", `/reservations/rsv_${base64url(f.otherResourceId)}.${randomPart(f.reservationId)}`),
  },
  {
    name: "reservation id with a forged resource part (dot-dot traversal)",
    code: "NOT_FOUND",
    send: (f) => call("GET", `/reservations/rsv_${base64url(`../${f.resourceId}`)}.${randomPart(f.reservationId)}`),
  },
  {
    name: "reservation id with a forged resource part (base64 padding)",
    code: "NOT_FOUND",
    send: (f) => call("GET", `/reservations/rsv_${base64url(f.resourceId)}%3D.${randomPart(f.reservationId)}`),
  },
  {
    name: "reservation id with a forged random part",
    code: "NOT_FOUND",
    send: (f) => call("GET", `/reservations/rsv_${base64url(f.resourceId)}.${"A".repeat(22)}`),
  },
  {
    name: "reservation id with an extra segment",
    code: "NOT_FOUND",
    send: (f) => call("GET", `/reservations/${f.reservationId}.x`),
  },
  {
    name: "reservation id of 300 characters",
    code: "NOT_FOUND",
    send: () => call("GET", `/reservations/rsv_${"A".repeat(296)}`),
  },

  // --- Timeline query ----------------------------------------------------------
  { name: "timeline ?limit=0", code: "VALIDATION_ERROR", field: "query.limit", send: (f) => timeline(f, "?limit=0") },
  {
    name: "timeline ?limit=abc",
    code: "VALIDATION_ERROR",
    field: "query.limit",
    send: (f) => timeline(f, "?limit=abc"),
  },
  {
    name: "timeline ?limit= (empty)",
    code: "VALIDATION_ERROR",
    field: "query.limit",
    send: (f) => timeline(f, "?limit="),
  },
  {
    name: "timeline ?limit=1001",
    code: "VALIDATION_ERROR",
    field: "query.limit",
    send: (f) => timeline(f, "?limit=1001"),
  },
  {
    name: "timeline ?after_seq=-1",
    code: "VALIDATION_ERROR",
    field: "query.after_seq",
    send: (f) => timeline(f, "?after_seq=-1"),
  },
  {
    name: "timeline ?after_seq=1.5",
    code: "VALIDATION_ERROR",
    field: "query.after_seq",
    send: (f) => timeline(f, "?after_seq=1.5"),
  },
  {
    name: "timeline unknown query param",
    code: "VALIDATION_ERROR",
    field: "query.cursor",
    send: (f) => timeline(f, "?cursor=abc"),
  },
  {
    name: "timeline of ..%2F..%2Fetc",
    code: "NOT_FOUND",
    send: () => call("GET", "/admin/resources/..%2F..%2Fetc/timeline"),
  },
  {
    name: "timeline of an unknown resource",
    code: "NOT_FOUND",
    send: () => call("GET", `/admin/resources/${uniqueId("missing")}/timeline`),
  },
];

/** Signs that internals leaked into a client-facing body. */
const LEAKS: RegExp[] = [
  /\n\s*at\s/, // a stack frame on its own line
  /\bat\s+\S*\s*\(?[^\s()"]+:\d+:\d+\)?/, // "at fn (file:line:col)" or "at file:line:col"
  /\b(RangeError|TypeError|SyntaxError|ReferenceError)\b/,
  /SQLITE/i,
  /INSERT\s+INTO/i,
  /SELECT\s[^"]*\sFROM/i,
  /CREATE\s+TABLE/i,
  /node_modules/,
  /\.(ts|js|mjs):\d+/,
];

async function snapshot(resourceId: string) {
  const res = await call("GET", `/resources/${resourceId}`);
  expect(res.status).toBe(200);
  const r = (await res.json()) as Record<string, unknown>;
  return { state: r.state, version: r.version, confirmed: r.confirmed, held: r.held, remaining: r.remaining };
}

async function timelineLength(resourceId: string): Promise<number> {
  const res = await call("GET", `/admin/resources/${resourceId}/timeline?limit=1000`);
  expect(res.status).toBe(200);
  const page = (await res.json()) as { items: unknown[]; next_after_seq: number | null };
  expect(page.next_after_seq).toBeNull();
  return page.items.length;
}

describe("bad input", () => {
  let fixture: Fixture;
  let before: Awaited<ReturnType<typeof snapshot>>;
  let timelineBefore: number;

  beforeAll(async () => {
    const resource = await createResource({ capacity: 5 });
    const other = await createResource({ capacity: 1 });
    const res = await reserve(resource.id as string, { quantity: 1 });
    expect(res.status).toBe(201);
    const reservation = (await res.json()) as { id: string };
    fixture = {
      resourceId: resource.id as string,
      reservationId: reservation.id,
      otherResourceId: other.id as string,
    };
    before = await snapshot(fixture.resourceId);
    expect(before).toEqual({ state: "OPEN", version: 2, confirmed: 1, held: 0, remaining: 4 });
    timelineBefore = await timelineLength(fixture.resourceId);
    expect(timelineBefore).toBe(2);
  });

  it("has a table of at least 30 distinct rows", () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it.each(rows)("$name → $code", async (row) => {
    const res = await row.send(fixture);
    const text = await res.text();
    const context = `${row.name}: ${res.status} ${text.slice(0, 300)}`;

    expect(res.status, context).toBeLessThan(500);
    expect(res.status, context).toBe(STATUS[row.code]);
    expect(res.headers.get("Content-Type") ?? "", context).toMatch(/^application\/json/);

    const body = JSON.parse(text) as { error?: Record<string, unknown> };
    expect(Object.keys(body), context).toEqual(["error"]);
    const error = body.error as Record<string, unknown>;
    expect(error.code, context).toBe(row.code);
    expect(typeof error.message, context).toBe("string");
    expect((error.message as string).length, context).toBeGreaterThan(0);

    const requestId = res.headers.get("X-Request-Id");
    expect(requestId, context).toMatch(ACCEPTED_REQUEST_ID);
    expect(error.request_id, context).toBe(requestId);
    if (row.requestId) {
      if (row.requestId.reused) expect(requestId, context).toBe(row.requestId.sent);
      else expect(requestId, context).not.toBe(row.requestId.sent);
    }

    if (row.code === "VALIDATION_ERROR") {
      const details = error.details as Array<Record<string, unknown>>;
      expect(Array.isArray(details), context).toBe(true);
      expect(details.length, context).toBeGreaterThan(0);
      for (const d of details) {
        expect(Object.keys(d).sort(), context).toEqual(["field", "issue"]);
        expect(typeof d.field, context).toBe("string");
        expect(typeof d.issue, context).toBe("string");
        expect((d.issue as string).length, context).toBeGreaterThan(0);
      }
      if (row.field)
        expect(
          details.map((d) => d.field),
          context,
        ).toContain(row.field);
    } else {
      expect(error.details, context).toBeUndefined();
    }

    for (const leak of LEAKS) expect(text, `${context} leaks ${leak}`).not.toMatch(leak);
  });

  it("left the resource, its reservation and its timeline untouched", async () => {
    expect(await snapshot(fixture.resourceId)).toEqual(before);
    expect(await timelineLength(fixture.resourceId)).toBe(timelineBefore);

    const res = await call("GET", `/reservations/${fixture.reservationId}`);
    expect(res.status).toBe(200);
    const reservation = (await res.json()) as Record<string, unknown>;
    expect(reservation).toMatchObject({ resource_id: fixture.resourceId, quantity: 1, status: "CONFIRMED" });

    const other = await snapshot(fixture.otherResourceId);
    expect(other).toEqual({ state: "OPEN", version: 1, confirmed: 0, held: 0, remaining: 1 });
  });
});
