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

describe("hostile input (fast-check)", () => {
  it("never answers 5xx, always the documented error body, never a secret, and changes nothing when it refuses", async () => {
    const target = await createResource({ capacity: 5, waiting_list_enabled: true });
    const id = target.id as string;
    const snapshot = async () => {
      const r = await (await call("GET", `/resources/${id}`)).json<Record<string, unknown>>();
      return { version: r.version, confirmed: r.confirmed, held: r.held, waiting: r.waiting_list_length };
    };

    const request = fc.record({
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

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const before = await snapshot();
        const headers: Record<string, string> = {};
        if (r.contentType) headers["Content-Type"] = r.contentType;
        try {
          if (r.idempotencyKey !== undefined) new Headers({ "Idempotency-Key": r.idempotencyKey });
          if (r.idempotencyKey !== undefined) headers["Idempotency-Key"] = r.idempotencyKey;
        } catch {
          // not a header value fetch can send at all
        }
        const withBody = r.method !== "GET" && r.method !== "HEAD" ? r.body : undefined;
        const res = await call(r.method, r.path, { raw: withBody, headers, auth: r.auth === "Bearer" ? "" : r.auth });
        const text = await res.text();
        expect(res.status).toBeLessThan(500);
        expect(text).not.toContain(ADMIN_TOKEN);
        expect(text).not.toMatch(/SQLITE|INSERT INTO|\bat [\w.]+ \(/);
        if (res.status >= 400 && r.method !== "HEAD") {
          const body = JSON.parse(text);
          expect(CODES.has(body.error.code)).toBe(true);
          expect(typeof body.error.message).toBe("string");
          expect(body.error.request_id).toBe(res.headers.get("X-Request-Id"));
          expect(await snapshot()).toEqual(before);
        }
      }),
      { numRuns: 1500 },
    );
  }, 300_000);
});
