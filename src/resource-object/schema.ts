/**
 * The Durable Object's SQLite schema, as an ordered list of migrations.
 *
 * Durable Object SQLite refuses `PRAGMA user_version`, so the applied version
 * lives in a one-row `schema_version` table instead.
 */
const ORDER_ITEMS = `CREATE TABLE order_items (
     order_id TEXT NOT NULL,
     item INTEGER NOT NULL,
     reservation_id TEXT,
     state TEXT NOT NULL CHECK (state IN ('HELD', 'CONFIRMED', 'LOCKED', 'RELEASED')),
     ask_at INTEGER,
     PRIMARY KEY (order_id, item)
   ) WITHOUT ROWID;
   CREATE INDEX order_items_ask ON order_items (ask_at) WHERE state = 'HELD';`;

const MIGRATIONS: string[] = [
  // v1: the resource, its reservations and its timeline. A timeline entry also
  // holds the idempotency record of the request that caused it, so an
  // idempotent commit writes one row less.
  `CREATE TABLE schema_version (version INTEGER NOT NULL);
   INSERT INTO schema_version (version) VALUES (0);
   CREATE TABLE resource (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     id TEXT NOT NULL,
     type TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSED')),
     capacity INTEGER NOT NULL,
     confirmed INTEGER NOT NULL,
     held INTEGER NOT NULL,
     waiting_list_enabled INTEGER NOT NULL,
     booking_opens_at INTEGER,
     booking_closes_at INTEGER,
     max_quantity_per_reservation INTEGER,
     hold_ttl_seconds INTEGER NOT NULL,
     metadata TEXT NOT NULL,
     version INTEGER NOT NULL,
     rules_version INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     last_seq INTEGER NOT NULL,
     last_timestamp INTEGER NOT NULL,
     -- Last line of defence for invariant 1: a bug that tried to overbook
     -- would abort the whole transaction instead of committing.
     CHECK (confirmed >= 0 AND held >= 0 AND confirmed + held <= capacity)
   );
   CREATE TABLE reservations (
     id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity >= 1),
     status TEXT NOT NULL,
     server_seq INTEGER NOT NULL,
     server_timestamp INTEGER NOT NULL,
     expires_at INTEGER,
     rules_version INTEGER NOT NULL,
     metadata TEXT NOT NULL,
     cancelled_at INTEGER,
     expired_at INTEGER,
     checked_in_at INTEGER,
     updated_seq INTEGER NOT NULL
   );
   CREATE TABLE timeline (
     seq INTEGER PRIMARY KEY,
     server_timestamp INTEGER NOT NULL,
     type TEXT NOT NULL,
     request_id TEXT NOT NULL,
     client_id TEXT,
     quantity INTEGER,
     outcome TEXT NOT NULL,
     code TEXT,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     version_before INTEGER NOT NULL,
     version_after INTEGER NOT NULL,
     rules_version INTEGER NOT NULL,
     idempotency_key TEXT,
     fingerprint TEXT,
     reply_status INTEGER,
     reply_headers TEXT,
     reply_body TEXT
   );

   -- The timeline is also the outbox: entries after drained_seq are not in D1 yet.
   CREATE TABLE outbox_state (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     drained_seq INTEGER NOT NULL,
     failures INTEGER NOT NULL,
     kv_version INTEGER NOT NULL,
     kv_written_at INTEGER NOT NULL
   );
   INSERT INTO outbox_state VALUES (1, 0, 0, 0, 0);
   CREATE UNIQUE INDEX timeline_idempotency_key ON timeline (idempotency_key) WHERE idempotency_key IS NOT NULL;`,

  // v2: hold expiry, the waiting list and webhook delivery.
  `CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'HELD';
   CREATE TABLE waiting_list (
     id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity >= 1),
     status TEXT NOT NULL CHECK (status IN ('WAITING', 'NOTIFIED', 'FULFILLED', 'LEFT')),
     server_seq INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     callback_url TEXT,
     notified_at INTEGER,
     left_at INTEGER
   );
   CREATE INDEX waiting_list_queue ON waiting_list (server_seq) WHERE status = 'WAITING';
   CREATE UNIQUE INDEX waiting_list_active_client ON waiting_list (client_id) WHERE status IN ('WAITING', 'NOTIFIED');
   -- Webhook deliveries that failed and wait for their next attempt.
   CREATE TABLE webhook_retries (
     id INTEGER PRIMARY KEY,
     seq INTEGER NOT NULL,
     url TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     next_at INTEGER NOT NULL,
     last_error TEXT NOT NULL
   );
   CREATE INDEX webhook_retries_due ON webhook_retries (next_at);
   ALTER TABLE outbox_state ADD COLUMN webhook_seq INTEGER NOT NULL DEFAULT 0;
   -- Objects that existed before webhooks do not replay their whole history.
   UPDATE outbox_state SET webhook_seq = COALESCE((SELECT last_seq FROM resource), 0);`,

  // v3: how long each client decision took from the Worker receiving it (commit_duration_seconds).
  "ALTER TABLE timeline ADD COLUMN latency_ms INTEGER;",

  // v4: waiting-list offers lapse and count only while their places exist
  // (API.md v1.1, docs/decisions.md #31). SQLite cannot alter a CHECK, so the
  // table is rebuilt to admit EXPIRED. Offers made before this lapse one
  // default TTL (900 s) after they were made and count all their places
  // until the next command compares them with what remains.
  `CREATE TABLE waiting_list_v4 (
     id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity >= 1),
     status TEXT NOT NULL CHECK (status IN ('WAITING', 'NOTIFIED', 'FULFILLED', 'LEFT', 'EXPIRED')),
     server_seq INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     callback_url TEXT,
     notified_at INTEGER,
     left_at INTEGER,
     -- While NOTIFIED: when the offer lapses, and how many of its places still count as offered.
     offer_expires_at INTEGER,
     offered INTEGER NOT NULL DEFAULT 0 CHECK (offered >= 0 AND offered <= quantity),
     expired_at INTEGER
   );
   INSERT INTO waiting_list_v4
     (id, client_id, quantity, status, server_seq, joined_at, callback_url, notified_at, left_at, offer_expires_at, offered)
   SELECT id, client_id, quantity, status, server_seq, joined_at, callback_url, notified_at, left_at,
          CASE WHEN status = 'NOTIFIED' THEN notified_at + 900000 END,
          CASE WHEN status = 'NOTIFIED' THEN quantity ELSE 0 END
   FROM waiting_list;
   DROP TABLE waiting_list;
   ALTER TABLE waiting_list_v4 RENAME TO waiting_list;
   CREATE INDEX waiting_list_queue ON waiting_list (server_seq) WHERE status = 'WAITING';
   CREATE UNIQUE INDEX waiting_list_active_client ON waiting_list (client_id) WHERE status IN ('WAITING', 'NOTIFIED');
   CREATE INDEX waiting_list_offers ON waiting_list (server_seq) WHERE status = 'NOTIFIED';
   CREATE INDEX waiting_list_lapses ON waiting_list (offer_expires_at) WHERE status = 'NOTIFIED';
   ALTER TABLE resource ADD COLUMN waiting_list_offer_ttl_seconds INTEGER NOT NULL DEFAULT 900;`,

  // v5: history and webhooks leave through queues (the webhook queue retries, not the object); KV is
  // refreshed only while somebody reads the resource.
  // Events whose delivery was pending a retry are queued again (receivers drop duplicates by event id).
  `ALTER TABLE outbox_state ADD COLUMN kv_read_until INTEGER NOT NULL DEFAULT 0;
   UPDATE outbox_state SET webhook_seq = MIN(webhook_seq, COALESCE((SELECT MIN(seq) - 1 FROM webhook_retries), webhook_seq));
   DROP TABLE webhook_retries;`,

  // v6: explaining decisions (docs/decisions.md #46). Which transaction (group commit) recorded each decision;
  // decisions found by request id (the engine's own, 'system', are never looked up); snapshots of the state
  // every so many decisions, so a replay to any seq reads a bounded stretch of the timeline; and the
  // availability snapshots published to KV, so an explanation can say what a cached read showed.
  `ALTER TABLE timeline ADD COLUMN commit_group INTEGER;
   CREATE INDEX timeline_request_id ON timeline (request_id) WHERE request_id <> 'system';
   CREATE TABLE snapshots (
     seq INTEGER NOT NULL,
     part INTEGER NOT NULL,
     server_timestamp INTEGER NOT NULL,
     -- The resource (part 0 only) and a slice of the reservations holding places, as JSON.
     resource TEXT,
     holders TEXT NOT NULL,
     PRIMARY KEY (seq, part)
   );
   -- One row per version handed out: when first, and until when some cache may still show it.
   CREATE TABLE availability_views (
     version INTEGER PRIMARY KEY,
     as_of INTEGER NOT NULL,
     cached_until INTEGER NOT NULL,
     state TEXT NOT NULL,
     remaining INTEGER NOT NULL
   );
   CREATE INDEX availability_views_as_of ON availability_views (as_of);`,
  // v7: orders across resources. A reservation may be an order's item; the item's place on this resource
  // (keyed by order and item, so every call of the order's coordinator is idempotent), and when an
  // undecided hold asks its coordinator what to do. A released item stays, so a late hold is refused.
  `ALTER TABLE reservations ADD COLUMN order_id TEXT;
   ${ORDER_ITEMS}`,
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The latest schema in one script, for an object that has none yet: what MIGRATIONS build, without
 * the tables they rebuild or drop. Every statement of a script stays prepared in workerd's per-object
 * statement cache while the object lives (sql.exec caches the whole batch), and SQLite's memory is
 * limited per process (512 MiB in local workerd): the six migrations left ~40 prepared statements in
 * every new object. tests/durable-object/schema-migration.test.ts checks both paths build the same schema.
 */
const FRESH_SCHEMA = `CREATE TABLE schema_version (version INTEGER NOT NULL);
   INSERT INTO schema_version (version) VALUES (${MIGRATIONS.length});
   CREATE TABLE resource (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     id TEXT NOT NULL,
     type TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSED')),
     capacity INTEGER NOT NULL,
     confirmed INTEGER NOT NULL,
     held INTEGER NOT NULL,
     waiting_list_enabled INTEGER NOT NULL,
     booking_opens_at INTEGER,
     booking_closes_at INTEGER,
     max_quantity_per_reservation INTEGER,
     hold_ttl_seconds INTEGER NOT NULL,
     metadata TEXT NOT NULL,
     version INTEGER NOT NULL,
     rules_version INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     last_seq INTEGER NOT NULL,
     last_timestamp INTEGER NOT NULL,
     waiting_list_offer_ttl_seconds INTEGER NOT NULL DEFAULT 900,
     CHECK (confirmed >= 0 AND held >= 0 AND confirmed + held <= capacity)
   );
   CREATE TABLE reservations (
     id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity >= 1),
     status TEXT NOT NULL,
     server_seq INTEGER NOT NULL,
     server_timestamp INTEGER NOT NULL,
     expires_at INTEGER,
     rules_version INTEGER NOT NULL,
     metadata TEXT NOT NULL,
     cancelled_at INTEGER,
     expired_at INTEGER,
     checked_in_at INTEGER,
     updated_seq INTEGER NOT NULL,
     order_id TEXT
   );
   CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'HELD';
   ${ORDER_ITEMS}
   CREATE TABLE timeline (
     seq INTEGER PRIMARY KEY,
     server_timestamp INTEGER NOT NULL,
     type TEXT NOT NULL,
     request_id TEXT NOT NULL,
     client_id TEXT,
     quantity INTEGER,
     outcome TEXT NOT NULL,
     code TEXT,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     version_before INTEGER NOT NULL,
     version_after INTEGER NOT NULL,
     rules_version INTEGER NOT NULL,
     idempotency_key TEXT,
     fingerprint TEXT,
     reply_status INTEGER,
     reply_headers TEXT,
     reply_body TEXT,
     latency_ms INTEGER,
     commit_group INTEGER
   );
   CREATE UNIQUE INDEX timeline_idempotency_key ON timeline (idempotency_key) WHERE idempotency_key IS NOT NULL;
   CREATE INDEX timeline_request_id ON timeline (request_id) WHERE request_id <> 'system';
   CREATE TABLE outbox_state (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     drained_seq INTEGER NOT NULL,
     failures INTEGER NOT NULL,
     kv_version INTEGER NOT NULL,
     kv_written_at INTEGER NOT NULL,
     webhook_seq INTEGER NOT NULL DEFAULT 0,
     kv_read_until INTEGER NOT NULL DEFAULT 0
   );
   INSERT INTO outbox_state VALUES (1, 0, 0, 0, 0, 0, 0);
   CREATE TABLE waiting_list (
     id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     quantity INTEGER NOT NULL CHECK (quantity >= 1),
     status TEXT NOT NULL CHECK (status IN ('WAITING', 'NOTIFIED', 'FULFILLED', 'LEFT', 'EXPIRED')),
     server_seq INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     callback_url TEXT,
     notified_at INTEGER,
     left_at INTEGER,
     offer_expires_at INTEGER,
     offered INTEGER NOT NULL DEFAULT 0 CHECK (offered >= 0 AND offered <= quantity),
     expired_at INTEGER
   );
   CREATE INDEX waiting_list_queue ON waiting_list (server_seq) WHERE status = 'WAITING';
   CREATE UNIQUE INDEX waiting_list_active_client ON waiting_list (client_id) WHERE status IN ('WAITING', 'NOTIFIED');
   CREATE INDEX waiting_list_offers ON waiting_list (server_seq) WHERE status = 'NOTIFIED';
   CREATE INDEX waiting_list_lapses ON waiting_list (offer_expires_at) WHERE status = 'NOTIFIED';
   CREATE TABLE snapshots (
     seq INTEGER NOT NULL,
     part INTEGER NOT NULL,
     server_timestamp INTEGER NOT NULL,
     resource TEXT,
     holders TEXT NOT NULL,
     PRIMARY KEY (seq, part)
   );
   CREATE TABLE availability_views (
     version INTEGER PRIMARY KEY,
     as_of INTEGER NOT NULL,
     cached_until INTEGER NOT NULL,
     state TEXT NOT NULL,
     remaining INTEGER NOT NULL
   );
   CREATE INDEX availability_views_as_of ON availability_views (as_of);`;

/** The applied schema version; 0 for an object that never stored anything. */
export function schemaVersion(sql: SqlStorage): number {
  const found = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").toArray();
  if (found.length === 0) return 0;
  return sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version;
}

/** Applies the migrations not applied yet, up to `target` (tests build older schemas). Call inside a transaction. */
export function migrate(sql: SqlStorage, target = MIGRATIONS.length): void {
  const from = schemaVersion(sql);
  if (from === 0 && target === MIGRATIONS.length) {
    sql.exec(FRESH_SCHEMA);
    return;
  }
  for (let v = from; v < target; v++) {
    sql.exec(MIGRATIONS[v] as string);
    sql.exec("UPDATE schema_version SET version = ?", v + 1);
  }
}
