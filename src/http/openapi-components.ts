/**
 * The shared parts of the OpenAPI document: the error body, the response
 * bodies, headers and security scheme. Request schemas are never written
 * here: they come from schemas.ts through `z.toJSONSchema`. The response
 * shapes mirror render.ts; a test parses real responses with them, so they
 * cannot drift unnoticed.
 */
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../domain/errors";
import { ACCEPTED_ID } from "./request-id";
import { IdempotencyKey, IfMatch } from "./schemas";

export type JsonSchema = { [key: string]: unknown };

export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/**
 * A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect). `io: "input"`
 * describes what a request may send (defaults make fields optional). A
 * `z.custom` (metadata) becomes an object; time patterns give way to
 * `format: date-time`, which says the same legibly.
 */
export function jsonSchema(schema: z.ZodType, io: "input" | "output" = "input"): JsonSchema {
  const out: JsonSchema = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema: js }) => {
      if (zodSchema._zod.def.type === "custom") {
        Object.assign(js, { type: "object", description: "A JSON object, stored as is (at most 4 KiB as JSON)." });
      }
      if (js.format === "date-time") js.pattern = undefined;
      // z.int()'s implicit safe-integer bounds say nothing a reader needs.
      if (js.minimum === Number.MIN_SAFE_INTEGER) js.minimum = undefined;
      if (js.maximum === Number.MAX_SAFE_INTEGER) js.maximum = undefined;
    },
  });
  delete out.$schema;
  return JSON.parse(JSON.stringify(out));
}

// ---- response bodies (output) --------------------------------------------

const time = z.iso.datetime();
const json = z.record(z.string(), z.unknown());
const page = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), next_cursor: z.string().nullable() });

export const ErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    details: z.array(z.strictObject({ field: z.string(), issue: z.string() })).optional(),
    request_id: z.string(),
  }),
  status: z.literal("REJECTED").optional().describe("Set on a reservation decision that went against the caller."),
});

export const Resource = z.strictObject({
  id: z.string(),
  type: z.string(),
  state: z.enum(["OPEN", "CLOSED"]),
  capacity: z.int(),
  confirmed: z.int(),
  held: z.int(),
  remaining: z.int().describe("capacity - confirmed - held, never negative"),
  waiting_list_enabled: z.boolean(),
  waiting_list_length: z.int(),
  booking_opens_at: time.nullable(),
  booking_closes_at: time.nullable(),
  max_quantity_per_reservation: z.int().nullable(),
  hold_ttl_seconds: z.int(),
  waiting_list_offer_ttl_seconds: z.int().describe("Seconds a waiting-list offer lasts before it lapses"),
  metadata: json,
  version: z.int().describe("Increases on every change of the resource's state"),
  rules_version: z.int().describe("Increases only when a rule changes"),
  created_at: time,
  updated_at: time,
});

export const Reservation = z.strictObject({
  id: z.string(),
  resource_id: z.string(),
  client_id: z.string(),
  quantity: z.int(),
  status: z.enum(["HELD", "CONFIRMED", "CHECKED_IN", "CANCELLED", "EXPIRED"]),
  server_timestamp: time,
  server_seq: z.int().describe("The resource's own strictly increasing sequence number"),
  expires_at: time.nullable(),
  rules_version: z.int(),
  metadata: json,
  cancelled_at: time.nullable(),
  expired_at: time.nullable(),
  checked_in_at: time.nullable(),
});

export const WaitingListEntry = z.strictObject({
  id: z.string(),
  resource_id: z.string(),
  client_id: z.string(),
  quantity: z.int(),
  status: z.enum(["WAITING", "NOTIFIED", "FULFILLED", "LEFT", "EXPIRED"]),
  position: z.int().nullable().describe("1 = next; null once no longer waiting"),
  joined_at: time,
  server_seq: z.int(),
  callback_url: z.string().nullable(),
  notified_at: time.nullable(),
  offer_expires_at: time
    .nullable()
    .describe("When the entry's offer lapses (it becomes EXPIRED and may join again); set once NOTIFIED"),
  left_at: time.nullable(),
  expired_at: time.nullable(),
});

export const Availability = z.strictObject({
  resource_id: z.string(),
  state: z.enum(["OPEN", "CLOSED"]),
  capacity: z.int(),
  remaining: z.int(),
  waiting_list_enabled: z.boolean(),
  version: z.int(),
  as_of: time,
});

const TimelineItem = z.strictObject({
  seq: z.int(),
  server_timestamp: time,
  type: z.string(),
  request_id: z.string(),
  client_id: z.string().nullable(),
  quantity: z.int().nullable(),
  outcome: z.enum(["ACCEPTED", "REJECTED"]),
  code: z.string().nullable(),
  reason: z.string(),
  detail: json,
  version_before: z.int(),
  version_after: z.int(),
  rules_version: z.int(),
  /** Worker received → object decided, ms; null for decisions the engine made itself. */
  latency_ms: z.int().nullable(),
});

const ApiKey = z.strictObject({
  id: z.string(),
  name: z.string(),
  role: z.enum(["admin", "client"]),
  created_at: time,
  last_used_at: time.nullable(),
  revoked_at: time.nullable(),
});

const AuditEntry = z.strictObject({
  id: z.int().describe("Order of arrival in the log; the cursor pages backwards by it"),
  time: time.describe("When the action was decided"),
  action: z
    .string()
    .describe(
      "resource.create|update|close|reopen, resource.import, api_key.issue, api_key.revoke, maintenance.update",
    ),
  route: z.string().describe('The request\'s route, e.g. "PATCH /resources/{id}"'),
  resource_id: z.string().nullable(),
  outcome: z.enum(["ACCEPTED", "REJECTED"]),
  reason: z.string(),
  key_id: z.string().nullable().describe('The API key\'s id, or "admin" for the ADMIN_TOKEN'),
  request_id: z.string(),
  before: json.nullable().describe("As the API showed it before; never a secret"),
  after: json.nullable().describe("As the API shows it after (an import: its counts); never a secret"),
});

const ImportFailure = z.strictObject({
  line: z.int(),
  error: z.strictObject({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

const ReconciliationRun = z.strictObject({
  id: z.int(),
  trigger: z.enum(["scheduled", "api"]),
  status: z.enum(["running", "completed", "failed"]),
  started_at: time,
  finished_at: time.nullable(),
  resources_checked: z.int(),
  gaps_found: z.int(),
  gaps_repaired: z.int(),
  decisions_repaired: z.int().describe("Decisions that were missing from the history and were written"),
  disagreements: z.array(
    z.strictObject({
      resource_id: z.string(),
      d1_last_seq: z.int(),
      missing: z.array(
        z.strictObject({
          from: z.int(),
          to: z.int(),
          repaired: z.int().describe("decisions D1 really lacked, now written"),
        }),
      ),
      error: z.string().optional().describe("the object could not be asked; the next run tries again"),
    }),
  ),
  error: z.string().nullable(),
});

/** Every response body the document names, by component name. */
export const RESPONSE_BODIES = {
  Error: ErrorBody,
  Health: z.strictObject({ status: z.literal("ok") }),
  Ready: z.strictObject({ status: z.literal("ready"), checks: z.record(z.string(), z.literal("ok")) }),
  Resource,
  ResourcePage: page(Resource),
  Reservation,
  WaitingListEntry,
  Availability,
  AvailabilityList: z.strictObject({ items: z.array(Availability) }),
  TimelinePage: z.strictObject({ items: z.array(TimelineItem), next_after_seq: z.int().nullable() }),
  AuditPage: page(AuditEntry),
  DeadLetterPage: page(json.describe("A webhook event whose delivery gave up")),
  ImportResult: z.strictObject({
    dry_run: z.literal(true).optional(),
    valid: z.int().optional().describe("Dry run only: lines that would be imported"),
    created: z.int(),
    unchanged: z.int(),
    failed: z.array(ImportFailure),
  }),
  ApiKey,
  ApiKeyCreated: ApiKey.extend({ key: z.string().describe("The plaintext key, shown only in this response") }),
  ApiKeyList: z.strictObject({ items: z.array(ApiKey) }),
  Maintenance: z.strictObject({ enabled: z.boolean(), message: z.string().nullable(), updated_at: time.nullable() }),
  ReconciliationRun,
  ReconciliationStatus: z.strictObject({
    last_run: ReconciliationRun.nullable(),
    history_dead_letters_open: z.int(),
  }),
  Analytics: json.describe("Reservations, rejections, cancellations and expired holds per day; utilization per type"),
} satisfies Record<string, z.ZodType>;

export type ResponseBody = keyof typeof RESPONSE_BODIES;

// ---- headers, parameters, security ---------------------------------------

const header = (description: string, schema: JsonSchema = { type: "string" }) => ({ description, schema });

export const RESPONSE_HEADERS = {
  "X-Request-Id": header("The request's id, also in the logs and the timeline."),
  "Retry-After": header("Seconds to wait before retrying.", { type: "integer" }),
  Location: header("The URL of the created object."),
  ETag: header('The resource\'s version in quotes, e.g. "3"; send it back as If-Match.'),
  "Idempotent-Replayed": header("`true` when this is the stored reply to an earlier request with the same key."),
  "WWW-Authenticate": header("The bearer challenge."),
  "X-Cache-Status": header("HIT when every snapshot came from the cache.", { type: "string", enum: ["HIT", "MISS"] }),
  "Cache-Control": header("`public, max-age=<TTL>` on availability; `no-store` on every error."),
};

export const PARAMETERS = {
  "X-Request-Id": {
    name: "X-Request-Id",
    in: "header",
    required: false,
    description: "Reused as the request's id when it matches the pattern (X-Correlation-Id too); else a UUID.",
    schema: { type: "string", pattern: ACCEPTED_ID.source },
  },
  "Idempotency-Key": {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    description: "A retry with the same key and body replays the first reply; a different body is a 422.",
    schema: jsonSchema(IdempotencyKey),
  },
  "If-Match": {
    name: "If-Match",
    in: "header",
    required: false,
    description: "The version the change is based on, from the ETag; 412 when the resource has changed since.",
    schema: jsonSchema(IfMatch),
  },
};

export const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description:
      "An API key: the ADMIN_TOKEN or a key issued by POST /admin/api-keys (role admin or client). While the key store (D1) is down, a key verified in the last 15 minutes keeps working and any other gets 503 UNAVAILABLE, not 401.",
  },
};
