/**
 * Request schemas (docs/api.md). The HTTP edge validates with these and nothing
 * else; the Durable Object trusts its typed input.
 */
import { z } from "zod";
import { RESOURCE_ID_PATTERN } from "../domain/ids";
import { MAX_ORDER_ITEMS } from "../domain/order";
import type { Json } from "../domain/resource";
import { DEFAULT_OFFER_TTL_SECONDS } from "../domain/waiting-list";
import { ACCEPTED_ID } from "./request-id";

const MAX_METADATA_BYTES = 4096;

/** Text without control characters or lone surrogates, which would corrupt logs and exports. */
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\p{Cs}]*$/u, "must not contain control characters")
    // The document's pattern without the regex's flags (JSON Schema patterns are unicode-aware).
    .meta({ pattern: "^[^\\p{Cc}\\p{Cs}]*$" });

const isoTime = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

const MAX_METADATA_DEPTH = 16;

/**
 * Metadata: a JSON object stored as is. Depth and size are checked with one
 * iterative walk before anything recursive touches the value, so a deeply
 * nested body is a 400, never a stack overflow.
 */
const metadata = z
  .custom<Record<string, Json>>()
  .superRefine((value, ctx) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      ctx.addIssue({ code: "custom", message: "must be a JSON object", params: { issue: "invalid_type" } });
    } else if (!nestsWithin(value, MAX_METADATA_DEPTH)) {
      ctx.addIssue({
        code: "custom",
        message: `must nest at most ${MAX_METADATA_DEPTH} levels`,
        params: { issue: "too_deep" },
      });
    } else if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_METADATA_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
        params: { issue: "too_big" },
      });
    }
  })
  // What generators need to type it as Record<string, unknown>: an object with any properties.
  .meta({
    type: "object",
    additionalProperties: {},
    description: `A JSON object, stored as is (at most ${MAX_METADATA_BYTES / 1024} KiB as JSON, ${MAX_METADATA_DEPTH} levels deep).`,
  });

function nestsWithin(root: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [value, depth] = item;
    if (value === null || typeof value !== "object") continue;
    if (depth > maxDepth) return false;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return true;
}

export const resourceId = z.string().regex(RESOURCE_ID_PATTERN, "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$");

/** The writable fields of a resource: created with defaults, patched with any subset. */
const resourceFields = {
  type: text(64),
  capacity: z.int().min(0).max(1_000_000),
  waiting_list_enabled: z.boolean(),
  booking_opens_at: isoTime.nullable(),
  booking_closes_at: isoTime.nullable(),
  max_quantity_per_reservation: z.int().min(1).max(1_000_000).nullable(),
  hold_ttl_seconds: z.int().min(30).max(86_400),
  waiting_list_offer_ttl_seconds: z.int().min(60).max(86_400),
  metadata,
};

type ResourceFieldsJson = Partial<{ [K in keyof typeof resourceFields]: z.infer<(typeof resourceFields)[K]> }>;

/** The writable fields as the domain names them; absent fields stay absent (a PATCH changes only what it names). */
export function resourceFieldsOf<B extends ResourceFieldsJson>(b: B) {
  const fields = {
    type: b.type,
    capacity: b.capacity,
    waitingListEnabled: b.waiting_list_enabled,
    bookingOpensAt: b.booking_opens_at,
    bookingClosesAt: b.booking_closes_at,
    maxQuantityPerReservation: b.max_quantity_per_reservation,
    holdTtlSeconds: b.hold_ttl_seconds,
    waitingListOfferTtlSeconds: b.waiting_list_offer_ttl_seconds,
    metadata: b.metadata,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as {
    [K in keyof typeof fields]: B extends Required<ResourceFieldsJson>
      ? Exclude<(typeof fields)[K], undefined>
      : (typeof fields)[K];
  };
}

export const CreateResourceBody = z
  .strictObject({
    id: resourceId.optional(),
    ...resourceFields,
    waiting_list_enabled: resourceFields.waiting_list_enabled.default(false),
    booking_opens_at: resourceFields.booking_opens_at.default(null),
    booking_closes_at: resourceFields.booking_closes_at.default(null),
    max_quantity_per_reservation: resourceFields.max_quantity_per_reservation.default(null),
    /** Absent: the operator's DEFAULT_HOLD_TTL_SECONDS (600 unless configured); see `createFieldsOf`. */
    hold_ttl_seconds: resourceFields.hold_ttl_seconds
      .optional()
      .describe("Seconds a hold lasts. Default: DEFAULT_HOLD_TTL_SECONDS (600 unless the operator set it)."),
    waiting_list_offer_ttl_seconds: resourceFields.waiting_list_offer_ttl_seconds
      .default(DEFAULT_OFFER_TTL_SECONDS)
      .describe("Seconds a waiting-list notification (an offer) lasts before it lapses and goes to the next entry."),
    metadata: metadata.default({}),
  })
  .refine(
    (b) => b.booking_opens_at === null || b.booking_closes_at === null || b.booking_opens_at < b.booking_closes_at,
    { message: "booking_opens_at must be before booking_closes_at", path: ["booking_closes_at"] },
  )
  .meta({ id: "CreateResourceBody" });

/** A validated create body as domain fields, with the configured hold TTL when the body gives none. */
export function createFieldsOf(b: z.infer<typeof CreateResourceBody>, defaultHoldTtlSeconds: number) {
  return resourceFieldsOf({ ...b, hold_ttl_seconds: b.hold_ttl_seconds ?? defaultHoldTtlSeconds });
}

/** PATCH /resources/{id}: any subset of the writable fields except `id`, at least one. */
export const UpdateResourceBody = z
  .strictObject(resourceFields)
  .partial()
  .refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change", path: ["body"] })
  .meta({ id: "UpdateResourceBody" });

/** `If-Match: "<version>"` (a weak `W/` prefix is accepted). */
export const IfMatch = z
  .string()
  .regex(/^(W\/)?"?\d{1,15}"?$/, 'must be a version in quotes, e.g. "3"')
  .transform((v) => Number(v.replace(/\D/g, "")));

export const JoinWaitingListBody = z
  .strictObject({
    resource_id: resourceId,
    client_id: text(128),
    quantity: z.int().min(1).max(1_000_000).default(1),
    /** Checked further by the route against the SSRF policy (src/lib/callback-target.ts), which depends on config. */
    callback_url: z
      .url()
      .max(2048)
      // The document states the https rule; the route checks it (400 unsafe_target) with the rest of the policy.
      .meta({ pattern: "^[Hh][Tt][Tt][Pp][Ss]://" })
      .nullable()
      .default(null)
      .describe(
        "https on a public host: loopback, private, link-local and metadata addresses and internal names are refused (unsafe_target).",
      ),
  })
  .meta({ id: "JoinWaitingListBody" });

export const LeaveWaitingListBody = z
  .strictObject({ entry_id: z.string().min(1).max(200) })
  .meta({ id: "LeaveWaitingListBody" });

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const CreateReservationBody = z
  .strictObject({
    resource_id: resourceId,
    client_id: text(128),
    quantity: z.int().min(1).max(1_000_000).default(1),
    hold: z.boolean().default(false),
    metadata: metadata.default({}),
  })
  .meta({ id: "CreateReservationBody" });

/** POST /orders: 1–20 items on distinct resources, each obeying its resource's rules as POST /reservations does. */
export const CreateOrderBody = z
  .strictObject({
    client_id: text(128),
    items: z
      .array(
        z.strictObject({
          resource_id: resourceId,
          quantity: z.int().min(1).max(1_000_000).default(1),
        }),
      )
      .min(1)
      .max(MAX_ORDER_ITEMS)
      .superRefine((items, ctx) => {
        const seen = new Set<string>();
        items.forEach((item, i) => {
          if (seen.has(item.resource_id)) {
            ctx.addIssue({ code: "custom", path: [i, "resource_id"], message: "appears in another item" });
          }
          seen.add(item.resource_id);
        });
      })
      .describe("Distinct resources; holds are placed in resource-id order"),
    hold: z
      .boolean()
      .default(false)
      .describe("true: hold every item until expires_at; false: confirm them all at once"),
    metadata: metadata.default({}),
  })
  .meta({ id: "CreateOrderBody" });

export const TimelineQuery = z.strictObject({
  after_seq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `?at_seq=&limit=&cursor=` of a resource's state as of a decision; the cursor pins the seq of the first page. */
export const StateQuery = z.strictObject({
  at_seq: z.coerce.number().int().min(1).optional().describe("The decision to stand after; the last one when absent"),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe("Reservations per page"),
  cursor: z
    .string()
    .regex(/^[1-9]\d{0,14}\.\d{1,7}$/, "must be a next_cursor from a previous page")
    .optional(),
});

const competitors = z.coerce
  .number()
  .int()
  .min(0)
  .max(100)
  .default(20)
  .describe("How many of the decisions just before it to show");

/** `?request_id=` or `?seq=` (exactly one) of the decision to explain. */
export const ExplainDecisionQuery = z
  .strictObject({
    request_id: z.string().regex(ACCEPTED_ID, "must be a request id (X-Request-Id)").optional(),
    seq: z.coerce.number().int().min(1).optional(),
    competitors,
  })
  .refine((q) => (q.request_id === undefined) !== (q.seq === undefined), {
    message: "give exactly one of request_id and seq",
    path: ["request_id"],
  });

export const ExplainReservationQuery = z.strictObject({ competitors });

/** `Idempotency-Key`: 1–255 printable ASCII characters. */
export const IdempotencyKey = z.string().regex(/^[\x20-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters");

/** `?resource_id=` for one resource, or `?resource_ids=a,b,c` for up to 100. */
export const AvailabilityQuery = z
  .strictObject({
    resource_id: resourceId.optional(),
    resource_ids: z
      .string()
      .transform((s) => [...new Set(s.split(","))])
      .pipe(z.array(resourceId).min(1).max(100))
      .optional()
      .meta({ description: "Comma-separated resource ids, at most 100 distinct ones (e.g. a,b,c)." }),
  })
  .refine((q) => (q.resource_id === undefined) !== (q.resource_ids === undefined), {
    message: "give exactly one of resource_id and resource_ids",
    path: ["resource_id"],
  });

const cursor = z.string().max(200);

export const ListResourcesQuery = z.strictObject({
  type: text(64).optional(),
  state: z.enum(["OPEN", "CLOSED"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursor.optional(),
});

export const ExportQuery = z
  .strictObject({
    resource_id: resourceId.optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    format: z.enum(["csv", "ndjson"]).default("ndjson"),
    cursor: z.string().min(1).max(512).optional().describe("From `X-Export-Cursor`: where the previous part ended"),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: "from must be before to",
    path: ["to"],
  });

export const ImportQuery = z.strictObject({
  dry_run: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});

export const CreateApiKeyBody = z
  .strictObject({
    name: text(100),
    role: z.enum(["admin", "client"]),
  })
  .meta({ id: "CreateApiKeyBody" });

export const MaintenanceBody = z
  .strictObject({
    enabled: z.boolean(),
    message: z.string().max(500).nullable().default(null),
  })
  .meta({ id: "MaintenanceBody" });

export const AnalyticsQuery = z
  .strictObject({ from: isoTime.optional(), to: isoTime.optional(), type: text(64).optional() })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: "from must be before to",
    path: ["to"],
  });

/** POST /admin/reconciliation: check every resource active since the last run, or exactly these. */
export const ReconciliationBody = z
  .strictObject({
    resource_ids: z.array(resourceId).min(1).max(1000).optional(),
    /** A decision younger than this may still be in the history queue: it is not a lost tail yet. */
    min_age_seconds: z.number().int().min(0).max(86_400).default(60),
  })
  .meta({ id: "ReconciliationBody" });
