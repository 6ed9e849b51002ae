import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createResource, reserve } from "../../helpers";

/**
 * Bad requests of every kind get the documented 4xx with the documented error
 * body, never a 5xx, never a leak of internals, and never change anything.
 *
 * The rows are tables by area (`*.rows.ts`), each run by its own test file
 * through `describeBadInput`; table.test.ts checks the tables as a whole.
 */

export type ErrorCode =
  | "VALIDATION_ERROR"
  | "UNAUTHENTICATED"
  | "NOT_FOUND"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE";

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

/** What the rows need to know about the world set up before them. */
export interface Fixture {
  /** The resource (capacity 5) whose state must not change. */
  resourceId: string;
  /** Its one valid reservation. */
  reservationId: string;
  /** A second, untouched resource, to forge reservation ids against. */
  otherResourceId: string;
}

export interface Row {
  name: string;
  code: ErrorCode;
  send: (f: Fixture) => Promise<Response>;
  /** For VALIDATION_ERROR: a `details[].field` that must be present. */
  field?: string;
  /** An `X-Request-Id` the row sends; `reused` says whether the response must echo it. */
  requestId?: { sent: string; reused: boolean };
}

export const JSON_TYPE = { "Content-Type": "application/json" };
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A raw (possibly malformed) JSON body, sent with an application/json Content-Type. */
export function rawJson(method: string, path: string, raw: string, headers: Record<string, string> = {}) {
  return call(method, path, { raw, headers: { ...JSON_TYPE, ...headers } });
}

/** A request built by hand, for what `call` cannot express (no Content-Type at all, explicit Content-Length). */
export function send(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> }) {
  const headers = { Authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers };
  return exports.default.fetch(new Request(`http://engine.test${path}`, { method, headers, body: init.body }));
}

export function base64url(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The random part of a reservation id (`rsv_<resource>.<random>`). */
export function randomPart(reservationId: string): string {
  return reservationId.split(".")[1] ?? "";
}

export const validResource = { type: "session", capacity: 5 };
export const validReservation = (f: Fixture) => ({
  resource_id: f.resourceId,
  client_id: "client-bad-input",
  quantity: 1,
});
export const timeline = (f: Fixture, query: string) => call("GET", `/admin/resources/${f.resourceId}/timeline${query}`);

/** Nested JSON arrays, `depth` levels deep, as text (JSON.stringify would not build it cheaply). */
export const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** Signs that internals leaked into a client-facing body. */
const LEAKS: RegExp[] = [
  /\n\s*at\s/, // a stack frame on its own line
  /\bat\s+\S*\s*\(?[^\s()"]+:\d+:\d+\)?/, // "at fn (file:line:col)" or "at file:line:col"
  /\b(RangeError|TypeError|SyntaxError|ReferenceError)\b/,
  /SQLITE/i,
  /INSERT\s+INTO/i,
  /SELECT\s[^"]*\sFROM/i,
  /CREATE\s+TABLE/i,
  /node_modules/,
  /\.(ts|js|mjs):\d+/,
];

async function snapshot(resourceId: string) {
  const res = await call("GET", `/resources/${resourceId}`);
  expect(res.status).toBe(200);
  const r = (await res.json()) as Record<string, unknown>;
  return { state: r.state, version: r.version, confirmed: r.confirmed, held: r.held, remaining: r.remaining };
}

async function timelineLength(resourceId: string): Promise<number> {
  const res = await call("GET", `/admin/resources/${resourceId}/timeline?limit=1000`);
  expect(res.status).toBe(200);
  const page = (await res.json()) as { items: unknown[]; next_after_seq: number | null };
  expect(page.next_after_seq).toBeNull();
  return page.items.length;
}

/** The bad-input suite for `rows`: each row's answer, then the check that none of them changed anything. */
export function describeBadInput(rows: Row[]): void {
  describe("bad input", () => {
    let fixture: Fixture;
    let before: Awaited<ReturnType<typeof snapshot>>;
    let timelineBefore: number;

    beforeAll(async () => {
      const resource = await createResource({ capacity: 5 });
      const other = await createResource({ capacity: 1 });
      const res = await reserve(resource.id as string, { quantity: 1 });
      expect(res.status).toBe(201);
      const reservation = (await res.json()) as { id: string };
      fixture = {
        resourceId: resource.id as string,
        reservationId: reservation.id,
        otherResourceId: other.id as string,
      };
      before = await snapshot(fixture.resourceId);
      expect(before).toEqual({ state: "OPEN", version: 2, confirmed: 1, held: 0, remaining: 4 });
      timelineBefore = await timelineLength(fixture.resourceId);
      expect(timelineBefore).toBe(2);
    });

    it.each(rows)("$name → $code", async (row) => {
      const res = await row.send(fixture);
      const text = await res.text();
      const context = `${row.name}: ${res.status} ${text.slice(0, 300)}`;

      expect(res.status, context).toBeLessThan(500);
      expect(res.status, context).toBe(STATUS[row.code]);
      expect(res.headers.get("Content-Type") ?? "", context).toMatch(/^application\/json/);

      const body = JSON.parse(text) as { error?: Record<string, unknown> };
      expect(Object.keys(body), context).toEqual(["error"]);
      const error = body.error as Record<string, unknown>;
      expect(error.code, context).toBe(row.code);
      expect(typeof error.message, context).toBe("string");
      expect((error.message as string).length, context).toBeGreaterThan(0);

      const requestId = res.headers.get("X-Request-Id");
      expect(requestId, context).toMatch(ACCEPTED_REQUEST_ID);
      expect(error.request_id, context).toBe(requestId);
      if (row.requestId) {
        if (row.requestId.reused) expect(requestId, context).toBe(row.requestId.sent);
        else expect(requestId, context).not.toBe(row.requestId.sent);
      }

      if (row.code === "VALIDATION_ERROR") {
        const details = error.details as Array<Record<string, unknown>>;
        expect(Array.isArray(details), context).toBe(true);
        expect(details.length, context).toBeGreaterThan(0);
        for (const d of details) {
          expect(Object.keys(d).sort(), context).toEqual(["field", "issue"]);
          expect(typeof d.field, context).toBe("string");
          expect(typeof d.issue, context).toBe("string");
          expect((d.issue as string).length, context).toBeGreaterThan(0);
        }
        if (row.field)
          expect(
            details.map((d) => d.field),
            context,
          ).toContain(row.field);
      } else {
        expect(error.details, context).toBeUndefined();
      }

      for (const leak of LEAKS) expect(text, `${context} leaks ${leak}`).not.toMatch(leak);
    });

    it("left the resource, its reservation and its timeline untouched", async () => {
      expect(await snapshot(fixture.resourceId)).toEqual(before);
      expect(await timelineLength(fixture.resourceId)).toBe(timelineBefore);

      const res = await call("GET", `/reservations/${fixture.reservationId}`);
      expect(res.status).toBe(200);
      const reservation = (await res.json()) as Record<string, unknown>;
      expect(reservation).toMatchObject({ resource_id: fixture.resourceId, quantity: 1, status: "CONFIRMED" });

      const other = await snapshot(fixture.otherResourceId);
      expect(other).toEqual({ state: "OPEN", version: 1, confirmed: 0, held: 0, remaining: 1 });
    });
  });
}
