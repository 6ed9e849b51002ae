// @ts-check
// The verifier must be able to fail: it is fed a small consistent history
// (which must pass) and then copies of it with one fault each, and must
// report every fault under the right check. Runs before every chaos run, and
// alone with `npm run test:chaos -- --self-test` (no server needed).
import { verify } from "./verify.mjs";

const T = (s) => `2026-11-22T10:00:${String(s).padStart(2, "0")}.000Z`;

/** A resource "r" of capacity 2 and five logical requests, two of them retried after a lost answer. */
function consistent() {
  const entry = (seq, type, request_id, outcome, extra = {}) => ({
    seq,
    server_timestamp: T(seq),
    type,
    request_id,
    client_id: type.startsWith("reservation.") ? "c" : null,
    quantity: type.startsWith("reservation.") ? 1 : null,
    outcome,
    code: null,
    reason: "",
    detail: {},
    version_before: seq - 1,
    version_after: seq,
    rules_version: 1,
    ...extra,
  });
  const timeline = [
    entry(1, "resource.create", "setup-r.1", "ACCEPTED", {
      detail: { after: { capacity: 2 } },
      version_before: 0,
      version_after: 1,
    }),
    entry(2, "reservation.reserve", "c-1.1", "ACCEPTED", { detail: { reservation_id: "A", status: "CONFIRMED" } }),
    // c-2: attempt 1 committed but its answer was lost; attempt 2 got the replay.
    entry(3, "reservation.reserve", "c-2.1", "ACCEPTED", { detail: { reservation_id: "B", status: "HELD" } }),
    // c-3: attempt 1 lost before it reached the object; attempt 2 decided.
    entry(4, "reservation.reserve", "c-3.2", "REJECTED", { code: "RESOURCE_FULL", version_after: 3 }),
    entry(5, "reservation.confirm", "c-4.1", "ACCEPTED", {
      detail: { reservation_id: "B", status: "CONFIRMED" },
      version_before: 3,
      version_after: 4,
    }),
    entry(6, "reservation.cancel", "c-5.1", "ACCEPTED", {
      detail: { reservation_id: "A", status: "CANCELLED" },
      version_before: 4,
      version_after: 5,
    }),
  ];
  const rsv = (id, status, seq, extra = {}) => ({
    id,
    resource_id: "r",
    client_id: "c",
    quantity: 1,
    status,
    server_timestamp: T(seq),
    server_seq: seq,
    expires_at: null,
    ...extra,
  });
  const heldB = rsv("B", "HELD", 3, { expires_at: T(33) });
  let n = 0;
  const attempt = (key, op, a, answer) => ({
    n: n++,
    t: 0,
    client: "c",
    op,
    key,
    attempt: a,
    request_id: `${key}.${a}`,
    resource_id: "r",
    ...answer,
  });
  const attempts = [
    attempt("c-1", "reserve", 1, { lost: false, status: 201, replayed: false, response: rsv("A", "CONFIRMED", 2) }),
    attempt("c-2", "reserve", 1, { lost: true, error: "ECONNRESET" }),
    attempt("c-2", "reserve", 2, { lost: false, status: 201, replayed: true, response: heldB }),
    attempt("c-3", "reserve", 1, { lost: true, error: "ECONNREFUSED" }),
    attempt("c-3", "reserve", 2, {
      lost: false,
      status: 409,
      replayed: false,
      response: { error: { code: "RESOURCE_FULL" }, status: "REJECTED" },
    }),
    attempt("c-4", "confirm", 1, {
      lost: false,
      status: 200,
      replayed: false,
      response: { ...heldB, status: "CONFIRMED" },
    }),
    attempt("c-5", "cancel", 1, {
      lost: false,
      status: 200,
      replayed: false,
      response: rsv("A", "CANCELLED", 2, { cancelled_at: T(6) }),
    }),
  ];
  const d1 = (e) => ({
    resource_id: "r",
    seq: e.seq,
    type: e.type,
    outcome: e.outcome,
    code: e.code,
    request_id: e.request_id,
    reservation_status: e.detail.status ?? null,
  });
  return {
    attempts,
    timelines: { r: timeline },
    resources: { r: { id: "r", capacity: 2, confirmed: 1, held: 0, version: 5 } },
    reservations: {
      A: rsv("A", "CANCELLED", 2, { cancelled_at: T(6) }),
      B: { ...heldB, status: "CONFIRMED" },
    },
    history: {
      exportRows: [
        { ...rsv("A", "CANCELLED", 2), metadata: { k: "c-1" } },
        { ...rsv("B", "CONFIRMED", 3), metadata: { k: "c-2" } },
      ],
      listed: [{ id: "r", version: 5, confirmed: 1, held: 0 }],
      audit: [{ resource_id: "r", action: "resource.create", request_id: "setup-r.1" }],
      analytics: {
        per_day: [{ day: "2026-11-22", reservations: 2, rejections: 1, cancellations: 1, expired_holds: 0 }],
        rejections_by_code: { RESOURCE_FULL: 1 },
      },
      metrics: {
        'reservations_total{status="CONFIRMED"}': 2,
        'reservations_total{status="HELD"}': 1,
        'reservations_total{status="CANCELLED"}': 1,
        'rejections_total{code="RESOURCE_FULL"}': 1,
      },
      d1Events: timeline.map(d1),
    },
  };
}

/**
 * Each case: a name, the check that must report it, and the fault.
 * @type {[string, string, (ev: any) => unknown][]}
 */
const CASES = [
  ["a 201 for a reservation the engine does not have", "acknowledged", (ev) => (ev.reservations.A = null)],
  ["an acknowledged confirm undone", "acknowledged", (ev) => (ev.reservations.B.status = "HELD")],
  ["a request that never got an answer", "acknowledged", (ev) => ev.attempts.push({ ...ev.attempts[1], key: "c-9" })],
  [
    "an overbooked prefix (3 places taken of 2 at seq 4)",
    "capacity",
    (ev) => {
      const e = ev.timelines.r[3];
      Object.assign(e, { outcome: "ACCEPTED", code: null, detail: { reservation_id: "C", status: "CONFIRMED" } });
    },
  ],
  ["a gap in server_seq", "capacity", (ev) => ev.timelines.r.splice(4, 1)],
  [
    "a cancelled reservation confirmed again",
    "capacity",
    (ev) => {
      const e = structuredClone(ev.timelines.r[4]);
      Object.assign(e, { seq: 7, request_id: "system", version_before: 5, version_after: 6 });
      e.detail.reservation_id = "A";
      ev.timelines.r.push(e);
    },
  ],
  [
    "a reservation duplicated in the D1 export",
    "history",
    (ev) => ev.history.exportRows.push(ev.history.exportRows[0]),
  ],
  ["a decision duplicated in D1", "history", (ev) => ev.history.d1Events.push({ ...ev.history.d1Events[2] })],
  ["a decision missing from D1", "history", (ev) => ev.history.d1Events.splice(3, 1)],
  ["a reservation missing from the D1 export", "history", (ev) => ev.history.exportRows.pop()],
  ["a stale reservation status in D1", "history", (ev) => (ev.history.exportRows[1].status = "HELD")],
  ["a decision counted twice in the analytics", "history", (ev) => (ev.history.analytics.per_day[0].reservations = 3)],
  [
    "a key decided twice (a second reservation for a retry)",
    "idempotency",
    (ev) => {
      const e = structuredClone(ev.timelines.r[2]);
      Object.assign(e, { seq: 7, request_id: "c-2.2", detail: { reservation_id: "B2", status: "HELD" } });
      ev.timelines.r.push(e);
    },
  ],
  [
    "a retry answered with another outcome than the original",
    "idempotency",
    (ev) => (ev.attempts[4].response = { error: { code: "RESOURCE_CLOSED" }, status: "REJECTED" }),
  ],
  ["a retry decided afresh though its original committed", "idempotency", (ev) => (ev.attempts[2].replayed = false)],
];

/** Runs every case; returns the failures (empty when the verifier catches everything). */
export function selfTest({ quiet = false } = {}) {
  const failures = [];
  const base = verify(consistent());
  if (base.violations.length > 0) {
    failures.push(`the consistent history is reported: ${base.violations.map((v) => v.message).join("; ")}`);
  }
  for (const [name, check, fault] of CASES) {
    const ev = consistent();
    fault(ev);
    const { violations } = verify(ev);
    const caught = violations.filter((v) => v.check === check);
    if (caught.length === 0) failures.push(`not caught by ${check}: ${name}`);
    if (!quiet)
      console.log(
        `  ${caught.length ? "caught" : "MISSED"}  ${check.padEnd(12)} ${name}: ${caught[0]?.message ?? "-"}`,
      );
  }
  return { cases: CASES.length + 1, failures };
}
