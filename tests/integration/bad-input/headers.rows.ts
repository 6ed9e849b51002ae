/**
 * Bad headers: Idempotency-Key and authentication.
 * Each row is a request and the error it must get; support.ts runs them.
 */
import { ADMIN_TOKEN, call, reserve } from "../../helpers";
import { JSON_TYPE, type Row, validReservation, validResource } from "./support";

export const headerRows: Row[] = [
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
];
