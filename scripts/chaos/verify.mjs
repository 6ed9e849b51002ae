// @ts-check
// The verifier: pure functions over what the client saw (its log of attempts)
// and what the engine answers afterwards (timelines, reservations, resources,
// and the D1 history views). No I/O here, so self-test.mjs can feed it
// fabricated evidence and check that every check can fail.
//
// Checks (each violation names one):
//   acknowledged  every reservation that got a 201 exists, with the status the client last saw acknowledged
//   capacity      replaying each timeline in server_seq order, confirmed + held never exceeds capacity
//   history       after the drain, D1 holds every committed change exactly once (export, listing,
//                 audit, aggregates, and row by row when the decision_events rows are given)
//   idempotency   a key decides at most once; a retried request's answer is the original outcome

/** The answers that are decisions, i.e. recorded in the timeline with the request's id. */
const DECISION_CODES = new Set(["RESOURCE_FULL", "RESOURCE_CLOSED", "INVALID_STATE"]);
const TAKES_PLACES = { HELD: "held", CONFIRMED: "confirmed", CHECKED_IN: "confirmed" };

/**
 * @typedef {import("./load.mjs").Attempt} Attempt
 * @typedef {{ seq: number, type: string, request_id: string, client_id: string|null, quantity: number|null,
 *             outcome: "ACCEPTED"|"REJECTED", code: string|null, detail: any, version_before: number,
 *             version_after: number }} TimelineEntry
 * @typedef {object} Evidence
 * @property {Attempt[]} attempts                          the client log
 * @property {Record<string, TimelineEntry[]>} timelines  per resource id, complete
 * @property {Record<string, any>} resources              GET /resources/:id (authoritative)
 * @property {Record<string, any|null>} reservations      GET /reservations/:id (null: 404)
 * @property {object} history                             D1 views, read after the outbox drained
 * @property {any[]} history.exportRows                   GET /admin/reservations/export (NDJSON rows)
 * @property {any[]} history.listed                       GET /resources?type= (from D1)
 * @property {any[]} history.audit                        GET /admin/audit
 * @property {any} history.analytics                      GET /admin/analytics?type=
 * @property {Record<string, number>} history.metrics     GET /metrics, parsed
 * @property {any[]|null} [history.d1Events]              decision_events rows (resource_id, seq, type, outcome, code, request_id, reservation_id, reservation_status)
 */

/**
 * @param {Evidence} ev
 * @returns {{ violations: { check: string, message: string }[], stats: Record<string, number> }}
 */
export function verify(ev) {
  const violations = [];
  const fail = (check, message) => violations.push({ check, message });
  /** @type {Record<string, number>} */
  const stats = {};
  const ops = logicalOps(ev.attempts);
  const replay = replayTimelines(ev, fail, stats);
  checkAcknowledged(ev, ops, fail, stats);
  checkIdempotency(ev, ops, replay, fail, stats);
  checkHistory(ev, replay, fail, stats);
  stats.violations = violations.length;
  return { violations, stats };
}

/**
 * The client log grouped by Idempotency-Key, in the order the requests started,
 * each with its attempts and its outcome (the last answer that is not lost and not a 5xx).
 */
export function logicalOps(attempts) {
  const byKey = new Map();
  for (const a of attempts) {
    let op = byKey.get(a.key);
    if (!op) {
      op = { key: a.key, op: a.op, client: a.client, resource_id: a.resource_id, attempts: [], final: null };
      byKey.set(a.key, op);
    }
    op.attempts.push(a);
    if (!a.lost && a.status < 500) op.final = a;
  }
  for (const op of byKey.values()) op.attempts.sort((x, y) => x.attempt - y.attempt);
  return [...byKey.values()];
}

/** The key and attempt of a request id `${key}.${attempt}`, or null for ids we did not send. */
function parseRequestId(id) {
  const m = /^(.*)\.(\d+)$/.exec(id ?? "");
  return m ? { key: m[1], attempt: Number(m[2]) } : null;
}

/**
 * Replays every timeline in server_seq order: seqs contiguous from 1, every
 * move of a reservation allowed from its replayed status, and confirmed + held
 * within capacity after every decision. Returns the replayed reservations and
 * the expected D1 aggregates.
 */
function replayTimelines(ev, fail, stats) {
  const reservations = new Map(); // id → { resource, status, quantity, server_seq }
  const byRequest = new Map(); // key → [{ entry, attempt, resource }]
  const counts = {
    reservations: 0,
    rejections: 0,
    cancellations: 0,
    expired_holds: 0,
    rejectionsByCode: {},
    changedByStatus: {},
  };
  let rows = 0;
  for (const [resource, entries] of Object.entries(ev.timelines)) {
    let capacity = null;
    let confirmed = 0;
    let held = 0;
    entries.forEach((e, i) => {
      rows += 1;
      if (e.seq !== i + 1)
        fail("capacity", `${resource}: timeline row ${i + 1} has server_seq ${e.seq} (gap or repeat)`);
      const parsed = parseRequestId(e.request_id);
      if (parsed) {
        const list = byRequest.get(parsed.key) ?? [];
        list.push({ entry: e, attempt: parsed.attempt, resource });
        byRequest.set(parsed.key, list);
      }
      const status = typeof e.detail?.status === "string" ? e.detail.status : null;
      if (e.outcome === "REJECTED") {
        counts.rejectionsByCode[e.code] = (counts.rejectionsByCode[e.code] ?? 0) + 1;
        if (e.type === "reservation.reserve") counts.rejections += 1;
      } else if (e.version_after > e.version_before && status) {
        counts.changedByStatus[status] = (counts.changedByStatus[status] ?? 0) + 1;
      }
      if (e.outcome !== "ACCEPTED") return;
      if (e.type === "resource.create" || e.type === "resource.update") {
        capacity = e.detail?.after?.capacity ?? capacity;
      } else if (e.type === "reservation.reserve") {
        counts.reservations += 1;
        const id = e.detail?.reservation_id;
        if (reservations.has(id)) fail("capacity", `${resource}: reservation ${id} created twice (seq ${e.seq})`);
        reservations.set(id, { resource, status, quantity: e.quantity, server_seq: e.seq, updated_seq: e.seq });
        if (TAKES_PLACES[status] === "held") held += e.quantity;
        else if (TAKES_PLACES[status] === "confirmed") confirmed += e.quantity;
      } else if (e.type.startsWith("reservation.")) {
        const id = e.detail?.reservation_id;
        const r = reservations.get(id);
        if (!r) {
          fail("capacity", `${resource}: seq ${e.seq} ${e.type} of ${id}, which no earlier decision created`);
          return;
        }
        if (e.type === "reservation.cancel" && status === "CANCELLED" && e.version_after > e.version_before) {
          counts.cancellations += 1;
        }
        if (e.type === "reservation.expire" && status === "EXPIRED") counts.expired_holds += 1;
        if (status && status !== r.status) {
          if (!allowedMove(r.status, status, e.type)) {
            fail("capacity", `${resource}: seq ${e.seq} moves ${id} from ${r.status} to ${status} (${e.type})`);
          }
          for (const [s, sign] of [
            [r.status, -1],
            [status, 1],
          ]) {
            if (TAKES_PLACES[s] === "held") held += sign * r.quantity;
            else if (TAKES_PLACES[s] === "confirmed") confirmed += sign * r.quantity;
          }
          r.status = status;
          r.updated_seq = e.seq;
        }
      }
      if (capacity !== null && confirmed + held > capacity) {
        fail(
          "capacity",
          `${resource}: at server_seq ${e.seq} confirmed ${confirmed} + held ${held} > capacity ${capacity}`,
        );
      }
    });
    const now = ev.resources[resource];
    if (now && (now.confirmed !== confirmed || now.held !== held)) {
      fail(
        "capacity",
        `${resource}: replay ends at confirmed ${confirmed}, held ${held}; the object says ${now.confirmed}, ${now.held}`,
      );
    }
    if (now && capacity !== now.capacity)
      fail("capacity", `${resource}: replayed capacity ${capacity}, object ${now.capacity}`);
  }
  stats.timelineRows = rows;
  stats.replayedReservations = reservations.size;
  return { reservations, byRequest, counts };
}

/** The reservation lifecycle (docs/api.md), as the timeline must show it. */
function allowedMove(from, to, type) {
  const moves = {
    "reservation.confirm": [["HELD", "CONFIRMED"]],
    "reservation.cancel": [
      ["HELD", "CANCELLED"],
      ["CONFIRMED", "CANCELLED"],
    ],
    "reservation.expire": [["HELD", "EXPIRED"]],
    "reservation.check_in": [["CONFIRMED", "CHECKED_IN"]],
    // An order's items, as their order decided (scripts/chaos/orders.mjs checks the orders themselves).
    "reservation.order_confirm": [["HELD", "CONFIRMED"]],
    "reservation.order_release": [
      ["HELD", "CANCELLED"],
      ["CONFIRMED", "CANCELLED"],
    ],
    "reservation.order_expire": [["HELD", "EXPIRED"]],
  };
  return (moves[type] ?? []).some(([f, t]) => f === from && t === to);
}

/**
 * No acknowledged write lost: every 201 names a reservation the engine still
 * has, with the status the client last saw acknowledged (a hold may have
 * expired since, at its `expires_at`).
 */
function checkAcknowledged(ev, ops, fail, stats) {
  const acked = new Map(); // reservation id → { created: 201 body, key, status: last acknowledged }
  for (const op of ops) {
    if (!op.final) {
      fail("acknowledged", `${op.key} (${op.op}) never got an answer in ${op.attempts.length} attempts`);
      continue;
    }
    const { status, response } = op.final;
    if (![200, 201, 409].includes(status) || (status === 409 && !DECISION_CODES.has(response?.error?.code))) {
      fail("acknowledged", `${op.key} (${op.op}) got ${status} ${JSON.stringify(response).slice(0, 200)}`);
      continue;
    }
    if (op.op === "reserve" && status === 201) {
      if (acked.has(response.id)) fail("idempotency", `${response.id} acknowledged to two keys (${op.key})`);
      acked.set(response.id, { created: response, key: op.key, status: response.status });
    } else if (op.op !== "reserve" && status === 200) {
      const a = acked.get(response.id);
      if (a) a.status = response.status;
      else fail("acknowledged", `${op.key} (${op.op}) acknowledged ${response.id}, which no 201 created`);
    }
  }
  let checked = 0;
  for (const [id, a] of acked) {
    checked += 1;
    const now = ev.reservations[id];
    if (now === undefined) {
      fail("acknowledged", `${id} (201 to ${a.key}) was not read back`);
      continue;
    }
    if (now === null) {
      fail("acknowledged", `${id} got 201 (${a.key}) but GET /reservations answers 404: acknowledged write lost`);
      continue;
    }
    const lapsed =
      a.status === "HELD" &&
      now.status === "EXPIRED" &&
      now.expires_at !== null &&
      Date.parse(now.expired_at) >= Date.parse(now.expires_at);
    if (now.status !== a.status && !lapsed) {
      fail("acknowledged", `${id} (${a.key}): last acknowledged ${a.status}, the engine says ${now.status}`);
    }
    for (const field of ["resource_id", "client_id", "quantity", "server_seq", "server_timestamp", "expires_at"]) {
      if (now[field] !== a.created[field]) {
        fail("acknowledged", `${id}: ${field} was ${a.created[field]} in the 201, is ${now[field]} now`);
      }
    }
  }
  stats.reservationsChecked = checked;
}

/**
 * A key decides at most once, and the answer a client finally got is that
 * decision: a retry whose original committed gets it replayed, one whose
 * original never committed gets a fresh one, never a second reservation.
 */
function checkIdempotency(ev, ops, replay, fail, stats) {
  let retried = 0;
  let replayedOriginal = 0;
  let decidedOnRetry = 0;
  const ours = new Set(ops.map((o) => o.key));
  for (const key of replay.byRequest.keys()) {
    // Orders (orders.mjs) decide several items under one key: checked per order, not here.
    if (!ours.has(key) && !key.startsWith("setup") && !key.startsWith("order-")) {
      fail("idempotency", `timeline has decisions for ${key}, a key the client never sent`);
    }
  }
  for (const op of ops) {
    const decided = replay.byRequest.get(op.key) ?? [];
    const lostBefore = op.attempts.some((a) => a.lost || a.status >= 500);
    if (lostBefore) retried += 1;
    if (decided.length > 1) {
      const where = decided.map((d) => `${d.resource}#${d.entry.seq} (${d.entry.request_id})`).join(", ");
      fail("idempotency", `${op.key} was decided ${decided.length} times: ${where}`);
      continue;
    }
    const f = op.final;
    if (!f) continue; // reported by the acknowledged check
    const isDecision =
      f.status === 201 || f.status === 200 || (f.status === 409 && DECISION_CODES.has(f.response?.error?.code));
    if (!isDecision) {
      if (decided.length > 0) fail("idempotency", `${op.key} was decided but its answer is ${f.status}`);
      continue;
    }
    if (decided.length === 0) {
      fail("idempotency", `${op.key} (${op.op}) got ${f.status} but no decision has its request id`);
      continue;
    }
    const { entry: e, attempt } = decided[0];
    const detail = e.detail ?? {};
    const r = f.response ?? {};
    let same;
    if (f.status === 201) {
      same = e.outcome === "ACCEPTED" && detail.reservation_id === r.id && e.seq === r.server_seq;
    } else if (f.status === 200) {
      same = e.outcome === "ACCEPTED" && detail.reservation_id === r.id && detail.status === r.status;
    } else {
      same = e.outcome === "REJECTED" && e.code === r.error?.code;
    }
    if (!same) {
      const got = f.status === 409 ? r.error?.code : `${r.id} ${r.status} seq ${r.server_seq}`;
      fail(
        "idempotency",
        `${op.key}: answer ${f.status} ${got} (attempt ${f.attempt}) is not the decision at ${e.seq}: ${e.outcome} ${e.code ?? detail.status} ${detail.reservation_id ?? ""} (attempt ${attempt})`,
      );
    }
    if (attempt > f.attempt) {
      fail("idempotency", `${op.key}: decided by attempt ${attempt}, after the answer of attempt ${f.attempt}`);
    } else if (attempt < f.attempt) {
      replayedOriginal += 1;
      if (!f.replayed)
        fail("idempotency", `${op.key}: attempt ${f.attempt} decided again instead of replaying attempt ${attempt}`);
    } else {
      if (lostBefore) decidedOnRetry += 1;
      if (f.replayed) fail("idempotency", `${op.key}: attempt ${f.attempt} says replayed but is the original decision`);
    }
  }
  stats.logicalRequests = ops.length;
  stats.attempts = ev.attempts.length;
  stats.lostAttempts = ev.attempts.filter((a) => a.lost).length;
  stats.retriedRequests = retried;
  stats.retriedOriginalCommitted = replayedOriginal;
  stats.retriedOriginalNotCommitted = decidedOnRetry;
}

/** Every committed change in D1 exactly once: nothing missing, nothing twice, nothing that did not happen. */
function checkHistory(ev, replay, fail, stats) {
  const h = ev.history;
  let duplicates = 0;
  let rowsChecked = 0;

  // Reservations (the export): one row per reservation, in its latest state.
  const seen = new Map();
  const keys = new Map();
  for (const row of h.exportRows) {
    rowsChecked += 1;
    if (seen.has(row.id)) {
      duplicates += 1;
      fail("history", `export: reservation ${row.id} appears ${seen.get(row.id) + 1} times`);
    }
    seen.set(row.id, (seen.get(row.id) ?? 0) + 1);
    const k = row.metadata?.k;
    if (k !== undefined) {
      if (keys.has(k) && keys.get(k) !== row.id) {
        duplicates += 1;
        fail("history", `export: key ${k} has two reservations, ${keys.get(k)} and ${row.id}`);
      }
      keys.set(k, row.id);
    }
    const r = replay.reservations.get(row.id);
    if (!r) {
      fail("history", `export: ${row.id} is in D1 but no timeline created it`);
      continue;
    }
    if (row.status !== r.status || row.server_seq !== r.server_seq || row.quantity !== r.quantity) {
      fail(
        "history",
        `export: ${row.id} is ${row.status} seq ${row.server_seq} ×${row.quantity}, the timeline says ${r.status} seq ${r.server_seq} ×${r.quantity}`,
      );
    }
  }
  for (const id of replay.reservations.keys()) {
    if (!seen.has(id)) fail("history", `export: ${id} committed but missing from D1`);
  }

  // The resource registry (the listing): each resource once, at its latest version.
  const listed = new Map();
  for (const row of h.listed) {
    rowsChecked += 1;
    if (listed.has(row.id)) {
      duplicates += 1;
      fail("history", `listing: ${row.id} appears twice`);
    }
    listed.set(row.id, row);
  }
  for (const [id, now] of Object.entries(ev.resources)) {
    const row = listed.get(id);
    if (!row) fail("history", `listing: ${id} missing from D1`);
    else if (row.version !== now.version || row.confirmed !== now.confirmed || row.held !== now.held) {
      fail(
        "history",
        `listing: ${id} is version ${row.version} (${row.confirmed}/${row.held}) in D1, ${now.version} (${now.confirmed}/${now.held}) in the object`,
      );
    }
  }

  // Admin actions (the audit log, from decision_events): each create once.
  const created = new Map();
  for (const row of h.audit) {
    if (!(row.resource_id in ev.timelines)) continue;
    rowsChecked += 1;
    const k = `${row.resource_id} ${row.action} ${row.request_id}`;
    if (created.has(k)) {
      duplicates += 1;
      fail("history", `audit: ${k} appears twice`);
    }
    created.set(k, row);
  }
  for (const [resource, entries] of Object.entries(ev.timelines)) {
    for (const e of entries.filter((x) => x.type.startsWith("resource."))) {
      if (!created.has(`${resource} ${e.type} ${e.request_id}`)) {
        fail("history", `audit: ${resource} ${e.type} (seq ${e.seq}) missing from D1`);
      }
    }
  }

  // Aggregates over decision_events: any decision missing or counted twice moves one of them.
  const c = replay.counts;
  const days = h.analytics?.per_day ?? [];
  const sum = (field) => days.reduce((n, d) => n + (d[field] ?? 0), 0);
  for (const field of ["reservations", "rejections", "cancellations", "expired_holds"]) {
    if (sum(field) !== c[field]) {
      if (sum(field) > c[field]) duplicates += sum(field) - c[field];
      fail("history", `analytics: ${field} ${sum(field)} in D1, ${c[field]} in the timelines`);
    }
  }
  compareCounts("analytics rejections_by_code", h.analytics?.rejections_by_code ?? {}, c.rejectionsByCode, fail);
  const metric = (prefix) =>
    Object.fromEntries(
      Object.entries(h.metrics ?? {})
        .filter(([k]) => k.startsWith(`${prefix}{`))
        .map(([k, v]) => [/"(.*)"/.exec(k)?.[1], v]),
    );
  compareCounts("metrics reservations_total", metric("reservations_total"), c.changedByStatus, fail);
  compareCounts("metrics rejections_total", metric("rejections_total"), c.rejectionsByCode, fail);

  // Row by row, when the decision_events rows were read: exactly the timelines, each once.
  if (h.d1Events) {
    const rows = new Map();
    for (const row of h.d1Events) {
      rowsChecked += 1;
      const k = `${row.resource_id}#${row.seq}`;
      if (rows.has(k)) {
        duplicates += 1;
        fail("history", `decision_events: ${k} appears twice`);
      }
      rows.set(k, row);
    }
    let expected = 0;
    for (const [resource, entries] of Object.entries(ev.timelines)) {
      for (const e of entries) {
        expected += 1;
        const row = rows.get(`${resource}#${e.seq}`);
        if (!row) {
          fail("history", `decision_events: ${resource}#${e.seq} (${e.type}) missing`);
          continue;
        }
        const status = typeof e.detail?.status === "string" ? e.detail.status : null;
        if (
          row.type !== e.type ||
          row.outcome !== e.outcome ||
          row.code !== e.code ||
          row.request_id !== e.request_id ||
          row.reservation_status !== status
        ) {
          fail("history", `decision_events: ${resource}#${e.seq} differs from the timeline`);
        }
      }
    }
    if (rows.size > expected) {
      fail("history", `decision_events: ${rows.size - expected} rows that no timeline has`);
    }
  }
  stats.d1RowsChecked = rowsChecked;
  stats.duplicates = duplicates;
}

function compareCounts(what, got, want, fail) {
  for (const k of new Set([...Object.keys(got), ...Object.keys(want)])) {
    if ((got[k] ?? 0) !== (want[k] ?? 0))
      fail("history", `${what}{${k}}: ${got[k] ?? 0} in D1, ${want[k] ?? 0} in the timelines`);
  }
}

/**
 * Whether the D1 views have caught up with the timelines (used to wait for
 * the drain; the real comparison is `verify`).
 */
export function historyCaughtUp(ev) {
  const { violations } = verify({ ...ev, attempts: [] });
  return violations.filter((v) => v.check === "history").length === 0;
}
