/**
 * Bad bodies: their shape, fields the schema does not know, their size and Content-Type.
 * Each row is a request and the error it must get; support.ts runs them.
 */
import { call, reserve } from "../../helpers";
import { JSON_TYPE, type Row, rawJson, send, validReservation, validResource } from "./support";

export const bodyRows: Row[] = [
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
];
