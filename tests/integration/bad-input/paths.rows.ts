/**
 * Bad paths and queries: ids in paths, the timeline's query.
 * Each row is a request and the error it must get; support.ts runs them.
 */
import { call, uniqueId } from "../../helpers";
import { base64url, type Row, randomPart, timeline } from "./support";

export const pathRows: Row[] = [
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
