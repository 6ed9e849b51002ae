import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createResource } from "../helpers";

const CODES = new Set([
  "VALIDATION_ERROR",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "RESOURCE_FULL",
  "RESOURCE_CLOSED",
  "INVALID_STATE",
  "RESOURCE_EXISTS",
  "PRECONDITION_FAILED",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "IDEMPOTENCY_KEY_REUSED",
  "RATE_LIMITED",
  "UNAVAILABLE",
  "MAINTENANCE",
]);

/** Strings that attack parsers, paths and encodings. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom(
    "../../etc/passwd",
    "..%2F..%2F",
    "%00",
    "\u0000",
    "\ud800",
    "🎫",
    "ﬁ",
    "A".repeat(300),
    "rsv_Li4vLi4v.AAAAAAAAAAAAAAAAAAAAAA",
    "wle_..",
    "__proto__",
    "constructor",
    "1e308",
    "-0",
    "null",
    "<script>",
    "' OR 1=1 --",
  ),
);

/** encodeURIComponent, but lone surrogates (which it refuses) become U+FFFD first. */
const encode = (s: string) => encodeURIComponent(s.toWellFormed());

const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(
    fc.constantFrom(
      "resource_id",
      "client_id",
      "quantity",
      "hold",
      "metadata",
      "type",
      "capacity",
      "id",
      "extra",
      "__proto__",
    ),
    fc.oneof(nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 })),
  ),
);

/** A well-formed owned id (rsv_/wle_) for `resourceId`, as the engine mints them. */
function ownedId(kind: "rsv_" | "wle_", resourceId: string, random: string): string {
  const bytes = new TextEncoder().encode(resourceId);
  const b64 = btoa(String.fromCharCode(...bytes));
  return `${kind}${b64.replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")}.${random}`;
}

/**
 * Requests that pass validation: valid bodies on random (mostly unknown)
 * resource, reservation and entry ids, with or without an Idempotency-Key,
 * under the admin or a client key. Any answer but a 5xx is fine.
 */
function wellFormedRequests(target: string, clientKey: string) {
  const resourceId = fc.oneof(fc.constant(target), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/));
  const random = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);
  const reservationId = fc.tuple(resourceId, random).map(([r, x]) => ownedId("rsv_", r, x));
  const entryId = fc.tuple(resourceId, random).map(([r, x]) => ownedId("wle_", r, x));
  const clientId = fc.constantFrom("c-1", "c-2", "w-1");
  const quantity = fc.integer({ min: 1, max: 3 });
  const route = fc.oneof(
    fc.record({
      method: fc.constant("POST"),
      path: fc.constant("/reservations"),
      body: fc.record({ resource_id: resourceId, client_id: clientId, quantity, hold: fc.boolean() }),
    }),
    fc.record({
      method: fc.constant("POST"),
      path: fc.constant("/waiting-list/join"),
      body: fc.record({ resource_id: resourceId, client_id: clientId, quantity }),
    }),
    fc.record({
      method: fc.constant("POST"),
      path: fc.constant("/resources"),
      body: fc.record({ id: resourceId, type: fc.constant("session"), capacity: fc.integer({ min: 0, max: 5 }) }),
    }),
    fc.record({
      method: fc.constant("POST"),
      path: fc
        .tuple(reservationId, fc.constantFrom("confirm", "cancel", "check-in"))
        .map(([id, a]) => `/reservations/${id}/${a}`),
    }),
    fc.record({ method: fc.constant("GET"), path: reservationId.map((id) => `/reservations/${id}`) }),
    fc.record({ method: fc.constantFrom("GET", "DELETE"), path: entryId.map((id) => `/waiting-list/${id}`) }),
    fc.record({
      method: fc.constant("DELETE"),
      path: fc.constant("/waiting-list/leave"),
      body: entryId.map((id) => ({ entry_id: id })),
    }),
    fc.record({ method: fc.constant("GET"), path: resourceId.map((id) => `/resources/${id}`) }),
    fc.record({
      method: fc.constant("POST"),
      path: fc.tuple(resourceId, fc.constantFrom("close", "reopen")).map(([id, a]) => `/resources/${id}/${a}`),
    }),
    fc.record({
      method: fc.constant("PATCH"),
      path: resourceId.map((id) => `/resources/${id}`),
      body: fc.record({ capacity: fc.integer({ min: 0, max: 10 }) }),
    }),
    fc.record({ method: fc.constant("GET"), path: resourceId.map((id) => `/availability?resource_id=${id}`) }),
    fc.record({ method: fc.constant("GET"), path: resourceId.map((id) => `/admin/resources/${id}/timeline`) }),
  );
  return fc
    .record({
      route,
      auth: fc.constantFrom(ADMIN_TOKEN, clientKey),
      // A few fixed keys, so retries (replays and reuse with another body) happen too.
      idempotencyKey: fc.option(fc.oneof(fc.constantFrom("k-1", "k-2"), fc.stringMatching(/^[\x21-\x7e]{1,255}$/)), {
        nil: undefined,
      }),
    })
    .map(({ route: r, auth, idempotencyKey }) => {
      const headers: Record<string, string> = {};
      if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
      const body = "body" in r ? JSON.stringify(r.body) : undefined;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return { method: r.method, path: r.path, auth, headers, body };
    });
}

describe("hostile input (fast-check)", () => {
  it("never answers 5xx (hostile or well-formed), always the documented error body, never a secret, and changes nothing when it refuses", async () => {
    const target = await createResource({ capacity: 5, waiting_list_enabled: true });
    const id = target.id as string;
    const snapshot = async () => {
      const r = await (await call("GET", `/resources/${id}`)).json<Record<string, unknown>>();
      return { version: r.version, confirmed: r.confirmed, held: r.held, waiting: r.waiting_list_length };
    };

    const hostile = fc.record({
      method: fc.constantFrom("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"),
      path: fc.oneof(
        fc.constantFrom(
          "/reservations",
          `/resources/${id}`,
          `/resources/${id}/close`,
          "/waiting-list/join",
          "/availability",
          "/admin/api-keys",
          "/admin/resources/import",
          `/admin/resources/${id}/timeline`,
        ),
        nasty.map((s) => `/${encode(s)}`),
        nasty.map((s) => `/reservations/${encode(s)}/cancel`),
        nasty.map((s) => `/availability?resource_id=${encode(s)}`),
      ),
      auth: fc.constantFrom(null, "nope", "Bearer", `rk_AAAAAAAAAAAA_${"A".repeat(43)}`, ADMIN_TOKEN),
      contentType: fc.constantFrom(
        undefined,
        "application/json",
        "text/plain",
        "text/csv",
        "application/json; charset=utf-16",
      ),
      body: fc.oneof(
        fc.constant(undefined),
        jsonValue.map((v) => JSON.stringify(v)),
        nasty,
      ),
      // ASCII only: fetch itself refuses or re-encodes anything else in a header.
      idempotencyKey: fc.option(
        nasty.filter((k) => [...k].every((ch) => ch.charCodeAt(0) < 0x80)),
        { nil: undefined },
      ),
    });

    const hostileRequests = hostile.map((r) => {
      const headers: Record<string, string> = {};
      if (r.contentType) headers["Content-Type"] = r.contentType;
      try {
        if (r.idempotencyKey !== undefined) new Headers({ "Idempotency-Key": r.idempotencyKey });
        if (r.idempotencyKey !== undefined) headers["Idempotency-Key"] = r.idempotencyKey;
      } catch {
        // not a header value fetch can send at all
      }
      const body = r.method !== "GET" && r.method !== "HEAD" ? r.body : undefined;
      return { method: r.method, path: r.path, auth: r.auth === "Bearer" ? "" : r.auth, headers, body };
    });
    const client = await (await call("POST", "/admin/api-keys", { body: { name: "fuzz", role: "client" } })).json<{
      key: string;
    }>();
    const request = fc.oneof(hostileRequests, wellFormedRequests(id, client.key));

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const before = await snapshot();
        const res = await call(r.method, r.path, { raw: r.body, headers: r.headers, auth: r.auth });
        const text = await res.text();
        expect(res.status).toBeLessThan(500);
        expect(text).not.toContain(ADMIN_TOKEN);
        expect(text).not.toMatch(/SQLITE|INSERT INTO|\bat [\w.]+ \(/);
        if (res.status >= 400) expect(res.headers.get("Cache-Control")).toBe("no-store");
        if (res.status >= 400 && r.method !== "HEAD") {
          const body = JSON.parse(text);
          expect(CODES.has(body.error.code)).toBe(true);
          expect(typeof body.error.message).toBe("string");
          // A replay is the first reply byte for byte, with the first request's id.
          if (res.headers.get("Idempotent-Replayed") !== "true") {
            expect(body.error.request_id).toBe(res.headers.get("X-Request-Id"));
          }
          expect(await snapshot()).toEqual(before);
        }
      }),
      { numRuns: 1500 },
    );
  }, 300_000);
});
