/**
 * Bad text: resource ids in the body, control characters and lone surrogates, metadata.
 * Each row is a request and the error it must get; support.ts runs them.
 */
import { call, reserve, uniqueId } from "../../helpers";
import { nested, type Row, rawJson, validResource } from "./support";

export const textRows: Row[] = [
  // --- Resource ids in the body -----------------------------------------------
  {
    name: "resource_id 65 characters",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `a${"b".repeat(64)}` }),
  },
  {
    name: "resource_id with a leading dash",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `-${f.resourceId}` }),
  },
  {
    name: "resource_id with a slash",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `${f.resourceId}/x` }),
  },
  {
    name: "resource_id dot-dot traversal",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `../../${f.resourceId}` }),
  },
  {
    name: "resource_id with unicode",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: "café-2026" }),
  },
  {
    name: "resource_id empty",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: "" }),
  },
  {
    name: "resource_id with a trailing newline",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: `${f.resourceId}\n` }),
  },
  {
    name: "resource_id a number",
    code: "VALIDATION_ERROR",
    field: "resource_id",
    send: (f) => reserve(f.resourceId, { resource_id: 12345 }),
  },
  {
    name: "resource id with dot-dot on POST /resources",
    code: "VALIDATION_ERROR",
    field: "id",
    send: () => call("POST", "/resources", { body: { ...validResource, id: "../etc" } }),
  },
  {
    name: "resource id with a leading underscore on POST /resources",
    code: "VALIDATION_ERROR",
    field: "id",
    send: () => call("POST", "/resources", { body: { ...validResource, id: "_hidden" } }),
  },
  {
    name: "unknown (well-formed) resource_id",
    code: "NOT_FOUND",
    send: (f) => reserve(f.resourceId, { resource_id: uniqueId("missing") }),
  },

  // --- Text fields: control characters and lone surrogates ---------------------
  {
    name: "client_id with NUL",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\u0000831" }),
  },
  {
    name: "client_id with a newline (log injection)",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: 'user\n{"level":"error"}' }),
  },
  {
    name: "client_id with DEL",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\u007f" }),
  },
  {
    name: "client_id with a C1 control (NEL)",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\u0085" }),
  },
  {
    name: "client_id with a lone high surrogate",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "user\ud800" }),
  },
  {
    name: "client_id with a lone low surrogate",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "\udc00user" }),
  },
  {
    name: "client_id empty",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "" }),
  },
  {
    name: "client_id 129 characters",
    code: "VALIDATION_ERROR",
    field: "client_id",
    send: (f) => reserve(f.resourceId, { client_id: "c".repeat(129) }),
  },
  {
    name: "type with a tab",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "ses\tsion" } }),
  },
  {
    name: "type with a lone surrogate",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "session\udfff" } }),
  },

  // --- Metadata -------------------------------------------------------------
  {
    name: "reservation metadata over 4 KiB",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: { note: "x".repeat(4097) } }),
  },
  {
    name: "resource metadata over 4 KiB",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: () => call("POST", "/resources", { body: { ...validResource, metadata: { note: "x".repeat(4097) } } }),
  },
  {
    name: "metadata over 4 KiB counted in UTF-8 bytes (1366 × '€')",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: { n: "€".repeat(1366) } }),
  },
  {
    name: "metadata an array",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: ["a"] }),
  },
  {
    name: "metadata null",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) => reserve(f.resourceId, { metadata: null }),
  },
  // Deep nesting must be a 400, never a stack overflow (it once was a 500).
  {
    name: "reservation metadata nested 1500 levels deep (3 KB, under 4 KiB)",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) =>
      rawJson(
        "POST",
        "/reservations",
        `{"resource_id":"${f.resourceId}","client_id":"c","metadata":{"a":${nested(1_500)}}}`,
      ),
  },
  {
    name: "reservation metadata nested 20000 levels deep (40 KB, over 4 KiB)",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: (f) =>
      rawJson(
        "POST",
        "/reservations",
        `{"resource_id":"${f.resourceId}","client_id":"c","metadata":{"a":${nested(20_000)}}}`,
      ),
  },
  {
    name: "resource metadata nested 20000 levels deep (40 KB, over 4 KiB)",
    code: "VALIDATION_ERROR",
    field: "metadata",
    send: () => rawJson("POST", "/resources", `{"type":"session","capacity":5,"metadata":{"a":${nested(20_000)}}}`),
  },
];
