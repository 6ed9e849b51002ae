/**
 * The response bodies the routes declare (route-spec.ts puts them in the
 * OpenAPI document under their names). They mirror render.ts; the
 * integration tests validate real responses against the document, so they
 * cannot drift unnoticed.
 */
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../domain/errors";
import { Order, OrderStep } from "./order-responses";

export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

// ---- response bodies (output) --------------------------------------------

const time = z.iso.datetime();
const json = z.record(z.string(), z.unknown());
const page = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), next_cursor: z.string().nullable() });

/** The one error body, with `code` narrowed to `codes` (each response lists the codes it can carry). */
function errorBody(codes: [ErrorCode, ...ErrorCode[]]) {
  return z.strictObject({
    error: z.strictObject({
      code: z.enum(codes),
      message: z.string(),
      details: z
        .array(z.strictObject({ field: z.string(), issue: z.string() }))
        .optional()
        .describe("One entry per problem: the field (body fields by name; query.x, header.X) and the issue."),
      request_id: z.string(),
    }),
    status: z
      .literal("REJECTED")
      .optional()
      .describe("Set on a reservation or order decision that went against the caller."),
    order_id: z.string().optional().describe("The order a refusal or an order's 503 is about (for operators)."),
    order_status: z
      .enum(["PENDING", "HELD", "CONFIRMED", "CANCELLED", "EXPIRED", "REJECTED"])
      .optional()
      .describe("An order's status on a 503 while its items are still being updated (retry to see them follow)."),
  });
}

export const ErrorBody = errorBody(ERROR_CODES);

/** The error bodies the routes name, one per set of codes (api-document.ts registers them). */
export const NARROWED_ERROR_BODIES = new Map<string, z.ZodType>();
/** The component name of the error body for these codes. */
export function errorBodyId(codes: [ErrorCode, ...ErrorCode[]]): string {
  const id = `Error_${codes.join("_or_")}`;
  if (!NARROWED_ERROR_BODIES.has(id)) NARROWED_ERROR_BODIES.set(id, errorBody(codes));
  return id;
}

export const Resource = z
  .strictObject({
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
  })
  .meta({ id: "Resource" });

export const Reservation = z
  .strictObject({
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
    order_id: z
      .string()
      .nullable()
      .describe("The order it is an item of (its order confirms or cancels it; check-in is per item), or null"),
  })
  .meta({ id: "Reservation" });

export const WaitingListEntry = z
  .strictObject({
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
  })
  .meta({ id: "WaitingListEntry" });

export const Availability = z
  .strictObject({
    resource_id: z.string(),
    state: z.enum(["OPEN", "CLOSED"]),
    capacity: z.int(),
    remaining: z.int(),
    waiting_list_enabled: z.boolean(),
    version: z.int(),
    as_of: time,
  })
  .meta({ id: "Availability" });

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
  commit_group: z
    .int()
    .nullable()
    .describe("The first seq of the transaction that recorded it: equal groups were decided in one group commit"),
});

const Disagreement = z.strictObject({
  seq: z.int(),
  field: z.string(),
  recorded: z.union([z.string(), z.int()]).nullable(),
  replayed: z.union([z.string(), z.int()]).nullable(),
});

const PastState = z
  .strictObject({
    at_seq: z.int(),
    server_timestamp: time.nullable().describe("When decision at_seq was made"),
    resource: Resource.omit({ waiting_list_length: true }).nullable().describe("Null before the resource was created"),
    reservations: z.array(
      z.strictObject({
        id: z.string(),
        client_id: z.string(),
        quantity: z.int(),
        status: z.enum(["HELD", "CONFIRMED", "CHECKED_IN"]),
        expires_at: time.nullable(),
      }),
    ),
    reservations_total: z.int().describe("Reservations holding places then, on all pages"),
    replay: z.strictObject({
      from_snapshot_seq: z.int().describe("The snapshot the replay started from (0: the beginning)"),
      decisions_replayed: z.int(),
      disagreements: z
        .array(Disagreement)
        .describe("Where deciding again gave another answer than the timeline recorded; empty for a sound history"),
      disagreements_total: z.int(),
    }),
  })
  .meta({ id: "PastState" });

const ApiKey = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    role: z.enum(["admin", "client"]),
    created_at: time,
    last_used_at: time.nullable(),
    revoked_at: time.nullable(),
  })
  .meta({ id: "ApiKey" });

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

const Job = z
  .strictObject({
    id: z.string().describe("`job_` and 32 hex digits"),
    kind: z.enum(["import"]),
    status: z
      .enum(["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"])
      .describe("SUCCEEDED: every line applied or reported in `failed`; FAILED: see `error`"),
    total: z.int().describe("Data rows in the file"),
    processed: z.int().describe("Lines done so far (never decreases)"),
    created: z.int(),
    unchanged: z.int(),
    failed_count: z.int(),
    failed: z.array(ImportFailure).describe("The first 1,000 failed lines, in line order"),
    error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
    created_at: time,
    started_at: time.nullable(),
    finished_at: time.nullable(),
    updated_at: time,
  })
  .meta({ id: "Job" });

const ReconciliationRun = z
  .strictObject({
    id: z.int(),
    trigger: z.enum(["scheduled", "api"]),
    status: z.enum(["running", "completed", "failed"]),
    phase: z
      .enum(["listed", "dead_letters", "gaps", "tails", "registry", "done"])
      .describe("Where the run is: its phases run in this order (`listed` instead, for named resources)"),
    steps: z.int().describe("Steps saved so far; each step stays within one invocation's budget"),
    started_at: time,
    updated_at: time.describe("When the last step saved"),
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
            repaired: z.int().describe("Decisions of this gap the history really lacked, now written"),
          }),
        ),
        error: z.string().optional().describe("The object could not be asked; the next run tries again"),
      }),
    ),
    error: z.string().nullable(),
  })
  .meta({ id: "ReconciliationRun" });

/** Every response body the document names, by component name. */
const BODIES = {
  Error: ErrorBody,
  Health: z.strictObject({ status: z.literal("ok") }),
  Ready: z.strictObject({ status: z.literal("ready"), checks: z.record(z.string(), z.literal("ok")) }),
  Resource,
  ResourcePage: page(Resource),
  Reservation,
  Order,
  OrderExplanation: z.strictObject({
    order: Order,
    steps: z.array(OrderStep),
    next_after_seq: z.int().nullable(),
  }),
  WaitingListEntry,
  Availability,
  AvailabilityList: z.strictObject({ items: z.array(Availability) }),
  TimelinePage: z.strictObject({ items: z.array(TimelineItem), next_after_seq: z.int().nullable() }),
  ResourceStateAt: PastState.extend({
    next_cursor: z.string().nullable().describe("The next page of reservations, as of the same at_seq"),
  }),
  Explanation: z.strictObject({
    resource_id: z.string(),
    decision: TimelineItem,
    state_before: PastState.describe("Right after the decision before it (its first 50 reservations)"),
    availability_view: z
      .strictObject({
        as_of: time,
        cached_until: time,
        version: z.int(),
        state: z.enum(["OPEN", "CLOSED"]),
        remaining: z.int(),
      })
      .nullable()
      .describe("What a cached availability read showed at that moment, if one was published and still cached"),
    competitors: z
      .array(TimelineItem.extend({ same_commit: z.boolean() }))
      .describe("The decisions just before it, oldest first; same_commit: decided in the same group commit"),
    request_seqs: z.array(z.int()).describe("Every decision made under the same request id"),
    reservation: Reservation.optional().describe("Reservation explanations: the reservation now"),
    reservation_decisions: z.array(TimelineItem).optional().describe("Every decision about the reservation"),
  }),
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
  Job,
  JobPage: page(Job),
  ReconciliationRun,
  ReconciliationStatus: z.strictObject({
    last_run: ReconciliationRun.nullable(),
    history_dead_letters_open: z.int(),
  }),
  Analytics: json.describe("Reservations, rejections, cancellations and expired holds per day; utilization per type"),
} satisfies Record<string, z.ZodType>;

/** The bodies, each named (`meta.id`) so the document shares it as `#/components/schemas/<name>`. */
export const RESPONSE_BODIES = Object.fromEntries(
  Object.entries(BODIES).map(([name, schema]) => [name, schema.meta()?.id ? schema : schema.meta({ id: name })]),
) as typeof BODIES;
