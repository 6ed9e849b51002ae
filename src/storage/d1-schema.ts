/**
 * The history database (D1): what spans resources. Written by the history
 * queue's consumer (idempotent upserts, storage/history-writer.ts) and read by listings,
 * exports and operators. Eventually consistent with the objects (seconds).
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** The resource registry, for listing. Upserted only by a later `last_seq`. */
export const resources = sqliteTable(
  "resources",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    state: text("state").notNull(),
    capacity: integer("capacity").notNull(),
    confirmed: integer("confirmed").notNull(),
    held: integer("held").notNull(),
    waitingListEnabled: integer("waiting_list_enabled", { mode: "boolean" }).notNull(),
    waitingListLength: integer("waiting_list_length").notNull().default(0),
    bookingOpensAt: integer("booking_opens_at"),
    bookingClosesAt: integer("booking_closes_at"),
    maxQuantityPerReservation: integer("max_quantity_per_reservation"),
    holdTtlSeconds: integer("hold_ttl_seconds").notNull(),
    waitingListOfferTtlSeconds: integer("waiting_list_offer_ttl_seconds").notNull().default(900),
    metadata: text("metadata").notNull(),
    version: integer("version").notNull(),
    rulesVersion: integer("rules_version").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** The `server_seq` of the last decision this row reflects: only a later one replaces it. */
    lastSeq: integer("last_seq").notNull().default(0),
  },
  (t) => [index("resources_type_id").on(t.type, t.id), index("resources_state_id").on(t.state, t.id)],
);

/** Every reservation's latest state. Upserted only by a later `updated_seq`. */
export const reservations = sqliteTable(
  "reservations",
  {
    id: text("id").primaryKey(),
    resourceId: text("resource_id").notNull(),
    clientId: text("client_id").notNull(),
    quantity: integer("quantity").notNull(),
    status: text("status").notNull(),
    serverSeq: integer("server_seq").notNull(),
    serverTimestamp: integer("server_timestamp").notNull(),
    expiresAt: integer("expires_at"),
    rulesVersion: integer("rules_version").notNull(),
    metadata: text("metadata").notNull(),
    cancelledAt: integer("cancelled_at"),
    expiredAt: integer("expired_at"),
    checkedInAt: integer("checked_in_at"),
    /** The `server_seq` of the decision that last changed it. */
    updatedSeq: integer("updated_seq").notNull(),
    /** The order it is an item of (orders across resources), or null. */
    orderId: text("order_id"),
  },
  (t) => [
    index("reservations_time_id").on(t.serverTimestamp, t.id),
    index("reservations_resource_time_id").on(t.resourceId, t.serverTimestamp, t.id),
  ],
);

/**
 * The timeline's copy: every decision of every resource, refusals included.
 * `id` is assigned by D1 in commit order and never reused, so it is the
 * watermark of the scheduled export; `(resource_id, seq)` makes a re-sent
 * decision a no-op.
 */
export const decisionEvents = sqliteTable(
  "decision_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    resourceId: text("resource_id").notNull(),
    seq: integer("seq").notNull(),
    serverTimestamp: integer("server_timestamp").notNull(),
    type: text("type").notNull(),
    requestId: text("request_id").notNull(),
    clientId: text("client_id"),
    quantity: integer("quantity"),
    outcome: text("outcome").notNull(),
    code: text("code"),
    reason: text("reason").notNull(),
    detail: text("detail").notNull(),
    versionBefore: integer("version_before").notNull(),
    versionAfter: integer("version_after").notNull(),
    rulesVersion: integer("rules_version").notNull(),
    reservationId: text("reservation_id"),
    reservationStatus: text("reservation_status"),
    /** Request received → decided, in ms; null for decisions the engine made itself. */
    latencyMs: integer("latency_ms"),
    /** When this row reached D1: drained_at - server_timestamp is the history lag. */
    drainedAt: integer("drained_at"),
  },
  (t) => [
    uniqueIndex("decision_events_resource_seq").on(t.resourceId, t.seq),
    index("decision_events_time").on(t.serverTimestamp),
    // GET /admin/dead-letters reads only these rows, newest first: an index of just them costs nothing elsewhere.
    index("decision_events_dead_letters").on(t.id).where(sql`${t.type} = 'webhook.dead_letter'`),
  ],
);

/**
 * Per resource, what D1 holds of its history, kept by a trigger on
 * `decision_events` (migrations/0008): how many decisions ever arrived, the
 * highest seq and when it was decided. `server_seq` is contiguous, so a
 * resource with `rows < last_seq` has a gap; the reconciler finds those by
 * the partial index, and the recently active by `last_at`, without reading
 * the history itself. Rows removed by retention are not subtracted.
 */
export const historyShape = sqliteTable(
  "history_shape",
  {
    resourceId: text("resource_id").primaryKey(),
    rows: integer("rows").notNull(),
    lastSeq: integer("last_seq").notNull(),
    lastAt: integer("last_at").notNull(),
  },
  (t) => [
    index("history_shape_gappy").on(t.resourceId).where(sql`${t.rows} < ${t.lastSeq}`),
    index("history_shape_recent").on(t.lastAt, t.resourceId),
  ],
);

/**
 * Daily totals for GET /admin/analytics, kept by a trigger on
 * `decision_events` (migrations/0008) as history lands, so a window of a
 * year reads at most a few thousand rows. `resource_type` is the type the
 * registry had when the decision reached D1.
 */
export const historyDaily = sqliteTable(
  "history_daily",
  {
    /** YYYY-MM-DD (UTC). */
    day: text("day").notNull(),
    resourceType: text("resource_type").notNull(),
    /** reservations | rejections | cancellations | expired_holds | rejected (any decision refused, by code). */
    metric: text("metric").notNull(),
    /** The refusal code for `rejected`; "" otherwise. */
    label: text("label").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.resourceType, t.metric, t.label] })],
);

/**
 * Long work (imports) as a job: its progress, moved on by steps on the jobs
 * queue that each stay within one invocation's budget (jobs/), resumable
 * from `cursor`. `steps` numbers the saved steps: a step saves only if none
 * was saved since it read the job, so a duplicate step changes nothing.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["import"] }).notNull(),
    status: text("status", { enum: ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"] }).notNull(),
    total: integer("total").notNull(),
    processed: integer("processed").notNull().default(0),
    created: integer("created").notNull().default(0),
    unchanged: integer("unchanged").notNull().default(0),
    failedCount: integer("failed_count").notNull().default(0),
    /** JSON: the first 1,000 failed lines, in line order. */
    failed: text("failed").notNull().default("[]"),
    /** JSON: where the next step starts (kind-specific). */
    cursor: text("cursor").notNull().default("{}"),
    steps: integer("steps").notNull().default(0),
    /** JSON error of a FAILED job. */
    error: text("error"),
    /** The request that started it and who sent it, for the audit entry written when it ends. */
    requestId: text("request_id").notNull(),
    actor: text("actor").notNull(),
    route: text("route").notNull(),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("jobs_newest").on(t.createdAt, t.id),
    index("jobs_kind_newest").on(t.kind, t.createdAt, t.id),
    index("jobs_open").on(t.updatedAt).where(sql`${t.status} IN ('QUEUED', 'RUNNING')`),
  ],
);

/** One scheduled export: the range of `decision_events.id` it covers and where it wrote. */
export const exportRuns = sqliteTable("export_runs", {
  id: text("id").primaryKey(),
  startedAt: integer("started_at").notNull(),
  completedAt: integer("completed_at"),
  status: text("status", { enum: ["started", "completed"] }).notNull(),
  /** Exclusive lower bound (the previous run's `toId`). */
  fromId: integer("from_id").notNull(),
  /** Inclusive upper bound. */
  toId: integer("to_id").notNull(),
  rows: integer("rows").notNull(),
  keys: text("keys").notNull(),
});

/** API keys: only a SHA-256 of the secret is stored; the plaintext is shown once, at creation. */
export const apiKeys = sqliteTable("api_keys", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  role: text("role", { enum: ["admin", "client"] }).notNull(),
  secretHash: text("secret_hash").notNull(),
  createdAt: integer("created_at").notNull(),
  lastUsedAt: integer("last_used_at"),
  revokedAt: integer("revoked_at"),
});

/**
 * The audit log: every admin action, `id` in the order it reached D1
 * (decision 27). Key, maintenance and import actions are written by the
 * Worker with the action; resource actions are copied from `decision_events`
 * by a trigger (migrations/0005, written by hand) as the outbox delivers them.
 * `before` and `after` are JSON as the API shows it, never a secret.
 */
export const adminAudit = sqliteTable(
  "admin_audit",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    time: integer("time").notNull(),
    action: text("action").notNull(),
    /** "METHOD /path/{param}". */
    route: text("route").notNull(),
    /** The API key's id, or "admin" for the bootstrap key. */
    keyId: text("key_id"),
    requestId: text("request_id").notNull(),
    resourceId: text("resource_id"),
    outcome: text("outcome").notNull(),
    reason: text("reason").notNull(),
    before: text("before"),
    after: text("after"),
    /** The decision_events row a resource action was copied from; null for the Worker's own. */
    sourceEventId: integer("source_event_id"),
  },
  (t) => [uniqueIndex("admin_audit_source_event").on(t.sourceEventId)],
);

/** Operator switches that every isolate reads, e.g. maintenance mode. */
export const settings = sqliteTable("settings", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Running totals for /metrics, kept by a trigger on `decision_events`
 * (migrations/0004): a decision adds to them exactly when its row is first
 * inserted, so a re-sent batch changes nothing and a scrape reads a few
 * hundred rows instead of the whole history. `commit_duration_ms` counts
 * observations per whole millisecond (label "10001" for anything above 10 s); /metrics
 * folds them into the histogram's buckets.
 */
export const metricCounters = sqliteTable(
  "metric_counters",
  {
    name: text("name").notNull(),
    label: text("label").notNull(),
    value: integer("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.label] })],
);

/** One run of the reconciler (cron/reconcile.ts): what it checked, found and repaired. */
export const reconciliationRuns = sqliteTable(
  "reconciliation_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** "scheduled" or "api". */
    trigger: text("trigger").notNull(),
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
    status: text("status", { enum: ["running", "completed", "failed"] }).notNull(),
    /** `decision_events.id` this run checked up to; the next scheduled run starts after it. */
    watermark: integer("watermark").notNull(),
    resourcesChecked: integer("resources_checked").notNull().default(0),
    gapsFound: integer("gaps_found").notNull().default(0),
    gapsRepaired: integer("gaps_repaired").notNull().default(0),
    decisionsRepaired: integer("decisions_repaired").notNull().default(0),
    /** JSON: the resources whose history disagreed with their object, and how (at most 100). */
    disagreements: text("disagreements").notNull().default("[]"),
    error: text("error"),
    /** The last registry id this run asked about; the next scheduled run goes on after it (null: from the start). */
    registryCursor: text("registry_cursor"),
    /** Where a run in steps is (cron/reconcile.ts): dead_letters, gaps, tails, registry, then done. */
    phase: text("phase").notNull().default("done"),
    /** JSON: the phase's saved position. */
    cursor: text("cursor").notNull().default("{}"),
    /** Steps saved so far: a step saves only if none was saved since it read the run. */
    steps: integer("steps").notNull().default(0),
    /** When the last step saved (a run whose steps stopped is resumed by the cron). */
    updatedAt: integer("updated_at").notNull().default(0),
    /** The oldest decision time (epoch ms) whose resources this run asks about their tail. */
    since: integer("since").notNull().default(0),
    minAgeMs: integer("min_age_ms").notNull().default(60000),
  },
  (t) => [index("reconciliation_runs_open").on(t.id).where(sql`${t.status} = 'running'`)],
);

/** History messages the queue gave up on (its dead-letter queue); the reconciler re-sends their decisions. */
export const historyDeadLetters = sqliteTable(
  "history_dead_letters",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    resourceId: text("resource_id").notNull(),
    firstSeq: integer("first_seq").notNull(),
    lastSeq: integer("last_seq").notNull(),
    decisions: integer("decisions").notNull(),
    receivedAt: integer("received_at").notNull(),
    /** When a reconciliation checked the resource against its object since. */
    reconciledAt: integer("reconciled_at"),
  },
  (t) => [index("history_dead_letters_open").on(t.id).where(sql`${t.reconciledAt} IS NULL`)],
);

/** Orders across resources, as their coordinators last sent them (a later `version` wins). */
export const orders = sqliteTable(
  "orders",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull(),
    status: text("status").notNull(),
    hold: integer("hold", { mode: "boolean" }).notNull(),
    /** The items as GET /orders/{id} shows them (JSON). */
    items: text("items").notNull(),
    expiresAt: integer("expires_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    metadata: text("metadata").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [index("orders_status").on(t.status), index("orders_created_id").on(t.createdAt, t.id)],
);
