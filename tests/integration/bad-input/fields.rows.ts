/**
 * Bad values: quantities, and the fields of a resource.
 * Each row is a request and the error it must get; support.ts runs them.
 */
import { call, reserve } from "../../helpers";
import { type Row, rawJson, validResource } from "./support";

export const fieldRows: Row[] = [
  // --- Quantity -------------------------------------------------------------
  {
    name: "quantity negative",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: -1 }),
  },
  {
    name: "quantity zero",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 0 }),
  },
  {
    name: "quantity negative zero",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":-0}`),
  },
  {
    name: "quantity fractional",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 1.5 }),
  },
  {
    name: "quantity as a string number",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: "2" }),
  },
  {
    name: 'quantity "NaN"',
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: "NaN" }),
  },
  {
    name: "quantity bare NaN (not JSON)",
    code: "VALIDATION_ERROR",
    field: "body",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":NaN}`),
  },
  {
    name: "quantity 1e400 (parses to Infinity)",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":1e400}`),
  },
  {
    name: "quantity 1e308",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 1e308 }),
  },
  {
    name: "quantity 10000001",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: 10_000_001 }),
  },
  {
    name: "quantity above the largest safe integer",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) =>
      rawJson("POST", "/reservations", `{"resource_id":"${f.resourceId}","client_id":"c","quantity":9007199254740993}`),
  },
  {
    name: "quantity null",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: null }),
  },
  {
    name: "quantity boolean",
    code: "VALIDATION_ERROR",
    field: "quantity",
    send: (f) => reserve(f.resourceId, { quantity: true }),
  },
  {
    name: "hold as a string",
    code: "VALIDATION_ERROR",
    field: "hold",
    send: (f) => reserve(f.resourceId, { hold: "true" }),
  },

  // --- Resource fields ------------------------------------------------------
  {
    name: "capacity negative",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: -1 } }),
  },
  {
    name: "capacity 1000001",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: 1_000_001 } }),
  },
  {
    name: "capacity fractional",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: 2.5 } }),
  },
  {
    name: "capacity as a string",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { ...validResource, capacity: "5" } }),
  },
  {
    name: "capacity missing",
    code: "VALIDATION_ERROR",
    field: "capacity",
    send: () => call("POST", "/resources", { body: { type: "session" } }),
  },
  {
    name: "hold_ttl_seconds below 30",
    code: "VALIDATION_ERROR",
    field: "hold_ttl_seconds",
    send: () => call("POST", "/resources", { body: { ...validResource, hold_ttl_seconds: 29 } }),
  },
  {
    name: "max_quantity_per_reservation zero",
    code: "VALIDATION_ERROR",
    field: "max_quantity_per_reservation",
    send: () => call("POST", "/resources", { body: { ...validResource, max_quantity_per_reservation: 0 } }),
  },
  {
    name: "waiting_list_enabled as a string",
    code: "VALIDATION_ERROR",
    field: "waiting_list_enabled",
    send: () => call("POST", "/resources", { body: { ...validResource, waiting_list_enabled: "yes" } }),
  },
  {
    name: "type empty",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "" } }),
  },
  {
    name: "type 65 characters",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: "t".repeat(65) } }),
  },
  {
    name: "type a number",
    code: "VALIDATION_ERROR",
    field: "type",
    send: () => call("POST", "/resources", { body: { ...validResource, type: 7 } }),
  },
  {
    name: "booking_opens_at after booking_closes_at",
    code: "VALIDATION_ERROR",
    field: "booking_closes_at",
    send: () =>
      call("POST", "/resources", {
        body: {
          ...validResource,
          booking_opens_at: "2027-01-02T00:00:00.000Z",
          booking_closes_at: "2027-01-01T00:00:00.000Z",
        },
      }),
  },
  {
    name: "booking_opens_at equal to booking_closes_at",
    code: "VALIDATION_ERROR",
    field: "booking_closes_at",
    send: () =>
      call("POST", "/resources", {
        body: {
          ...validResource,
          booking_opens_at: "2027-01-01T00:00:00.000Z",
          booking_closes_at: "2027-01-01T00:00:00.000Z",
        },
      }),
  },
  {
    name: "booking_opens_at not a date (Feb 30)",
    code: "VALIDATION_ERROR",
    field: "booking_opens_at",
    send: () => call("POST", "/resources", { body: { ...validResource, booking_opens_at: "2027-02-30T00:00:00Z" } }),
  },
  {
    name: "booking_closes_at as epoch milliseconds",
    code: "VALIDATION_ERROR",
    field: "booking_closes_at",
    send: () => call("POST", "/resources", { body: { ...validResource, booking_closes_at: 1_800_000_000_000 } }),
  },
];
