/**
 * Each route is declared where it is handled, with `route()`: its inputs (the
 * zod schemas that validate them), who may call it, and every response it can
 * give. `@hono/zod-openapi` validates the inputs from the declaration and
 * builds `/openapi.json` from all of them (api-document.ts), so the document
 * cannot disagree with the code. Decision 40.
 */
import { createRoute, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode, REFUSAL_MESSAGE } from "../domain/errors";
import { ERROR_CODES, errorBodyId } from "./responses";
import { IdempotencyKey, IfMatch } from "./schemas";
import type { AppEnv } from "./types";
import { jsonBodyGate, noBodyGate, validationError } from "./validate";

export type Tag =
  | "Reservations"
  | "Orders"
  | "Waiting list"
  | "Availability"
  | "Resources"
  | "Admin"
  | "Operations"
  | "Reference";
export const TAGS: Tag[] = [
  "Reservations",
  "Orders",
  "Waiting list",
  "Availability",
  "Resources",
  "Admin",
  "Operations",
  "Reference",
];

/** Who may call a route: anyone, an admin key, or an admin or client key. */
export type Access = "public" | "admin" | "client";

/** Response headers the routes send, by name (components.headers). */
export type HeaderName =
  | "X-Request-Id"
  | "Retry-After"
  | "Location"
  | "ETag"
  | "Idempotent-Replayed"
  | "WWW-Authenticate"
  | "X-Cache-Status"
  | "Cache-Control"
  | "Content-Disposition"
  | "X-Export-Cursor"
  | "Link"
  | "X-History-Oldest";

interface Success {
  description: string;
  /** A JSON body, or bodies by media type (their schema is a string: the description tells the format). */
  body: z.ZodType | Record<`${string}/${string}`, z.ZodType>;
  /** Headers besides X-Request-Id (and Idempotent-Replayed where idempotent). */
  headers?: HeaderName[];
}

export interface RouteSpec {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** The path within the route file's app, in OpenAPI form: "/{id}/confirm". */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  access: Access;
  query?: z.ZodObject;
  /** A JSON body (validated); "none": no body or `{}`; "csv": a CSV upload the route reads itself. */
  body?: z.ZodType | "none" | "csv";
  bodyDescription?: string;
  /** Accepts `Idempotency-Key`. */
  idempotent?: true;
  /** Accepts `If-Match`. */
  ifMatch?: true;
  ok: Record<number, Success>;
  /** The route's own error codes; `route()` adds those its access, inputs and method imply. */
  errors?: ErrorCode[];
  /** Headers an error status carries besides the usual ones (X-Request-Id, Cache-Control, …). */
  errorHeaders?: Record<number, HeaderName[]>;
}

const WRITES = new Set(["post", "put", "patch", "delete"]);

/** The codes a route can answer with: its own, plus those its access, inputs and method imply. */
export function errorCodes(r: RouteSpec, fullPath: string): ErrorCode[] {
  const write = WRITES.has(r.method);
  const codes = new Set<ErrorCode>(r.errors);
  if (r.access !== "public") {
    codes.add("UNAUTHENTICATED");
    // Writes per key; any key this isolate has not cached is looked up within a per-IP allowance.
    codes.add("RATE_LIMITED");
    // A key D1 never confirmed while D1 is down; and every route that reads D1 (decision 24).
    codes.add("UNAVAILABLE");
  }
  if (r.access === "admin") codes.add("FORBIDDEN");
  if (r.query || r.body || r.idempotent || r.ifMatch) codes.add("VALIDATION_ERROR");
  if (r.body) codes.add("UNSUPPORTED_MEDIA_TYPE");
  if (write) codes.add("PAYLOAD_TOO_LARGE");
  if (write && fullPath !== "/admin/maintenance") codes.add("MAINTENANCE");
  if (r.idempotent) codes.add("IDEMPOTENCY_KEY_REUSED");
  if (r.ifMatch) codes.add("PRECONDITION_FAILED");
  codes.add("INTERNAL");
  return ERROR_CODES.filter((c) => codes.has(c));
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });

const headersOf = (names: HeaderName[]) => Object.fromEntries(names.map((n) => [n, ref("headers", n)]));

const REFUSALS = Object.keys(REFUSAL_MESSAGE) as ErrorCode[];

type Ref = { $ref: string };
/**
 * The error responses the routes name, shared in `components.responses`:
 * filled as the route files declare their routes (when they are loaded),
 * registered by api-document.ts.
 */
export const ERROR_RESPONSES = new Map<
  string,
  { description: string; headers: Record<string, Ref>; content: Record<string, { schema: Ref }> }
>();

/**
 * One response per error status, its body's `code` narrowed to the codes of
 * that status; shared by name unless the route adds headers to it.
 */
function errorResponses(codes: ErrorCode[], extraHeaders: Record<number, HeaderName[]> = {}) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => {
      const names: HeaderName[] = ["X-Request-Id", "Cache-Control"];
      if (status === 429 || status === 503) names.push("Retry-After");
      if (status === 401) names.push("WWW-Authenticate");
      const refusal = list.some((c) => REFUSALS.includes(c));
      const response = {
        description: list.join(", ") + (refusal ? ' (a refused decision also has "status": "REJECTED")' : ""),
        headers: headersOf(names),
        content: { "application/json": { schema: ref("schemas", errorBodyId(list as [ErrorCode, ...ErrorCode[]])) } },
      };
      const extra = extraHeaders[status];
      if (extra) return [status, { ...response, headers: headersOf([...names, ...extra]) }];
      const name = list.join("_or_");
      ERROR_RESPONSES.set(name, response);
      return [status, ref("responses", name)];
    }),
  );
}

function successes(r: RouteSpec) {
  return Object.fromEntries(
    Object.entries(r.ok).map(([status, ok]) => {
      const names: HeaderName[] = ["X-Request-Id", ...(ok.headers ?? [])];
      if (r.idempotent) names.push("Idempotent-Replayed");
      const content =
        ok.body instanceof z.ZodType
          ? { "application/json": { schema: ok.body } }
          : Object.fromEntries(Object.entries(ok.body).map(([media, schema]) => [media, { schema }]));
      return [status, { description: ok.description, headers: headersOf(names), content }];
    }),
  );
}

function requestBody(r: RouteSpec) {
  if (r.body === undefined) return undefined;
  if (r.body === "csv") {
    const schema = z.string().meta({ description: "CSV (RFC 4180)" });
    return { required: true, description: r.bodyDescription, content: { "text/csv": { schema } } };
  }
  if (r.body === "none") {
    // A reference, not a zod schema: the route's own gate reads the body (no body at all is fine).
    return {
      required: false,
      description: "No body, or an empty JSON object.",
      content: { "application/json": { schema: ref("schemas", "EmptyBody") } },
    };
  }
  return { required: true, description: r.bodyDescription, content: { "application/json": { schema: r.body } } };
}

/** Header parameters, validated (with the field `header.<Name>`) by the hook below. */
function requestHeaders(r: RouteSpec) {
  const shape: Record<string, z.ZodType> = {};
  if (r.idempotent) {
    shape["Idempotency-Key"] = IdempotencyKey.optional().describe(
      "A retry with the same key and body replays the first reply (Idempotent-Replayed: true); a different body is a 422. Keys are scoped to the caller, the route and the resource: the same key on another resource is another request. Kept at least 24 hours.",
    );
  }
  if (r.ifMatch) {
    shape["If-Match"] = IfMatch.optional().describe(
      'The version the change is based on, from the ETag (e.g. "3"); 412 when the resource has changed since.',
    );
  }
  return Object.keys(shape).length > 0 ? z.object(shape) : undefined;
}

/**
 * The route's declaration for `app.openapi(...)`. `mountedAt` is where its
 * file's app is mounted (app.ts), for the operationId and the codes that
 * depend on the full path; a test checks each operationId against its path.
 */
export function route(mountedAt: string, r: RouteSpec) {
  const fullPath = `${mountedAt}${r.path === "/" ? "" : r.path}` || "/";
  const params = [...r.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name as string);
  const gate = r.body === "none" ? noBodyGate : r.body instanceof z.ZodType ? jsonBodyGate : undefined;
  const codes = errorCodes(r, fullPath);
  // A refusal is a decision: stored with its key and replayed like a success (decision 1).
  const replayed = r.idempotent && codes.some((c) => REFUSALS.includes(c));
  const errorHeaders = replayed
    ? { ...r.errorHeaders, 409: [...(r.errorHeaders?.[409] ?? []), "Idempotent-Replayed" as const] }
    : r.errorHeaders;
  const config = {
    method: r.method,
    path: r.path,
    tags: [r.tag],
    summary: r.summary,
    description: [
      r.description,
      `Key: ${{ public: "none (public)", admin: "admin", client: "admin or client" }[r.access]}.`,
    ]
      .filter(Boolean)
      .join("\n\n"),
    operationId: operationId(r.method, fullPath),
    security: r.access === "public" ? [] : [{ bearer: [] }],
    "x-roles": r.access === "public" ? [] : r.access === "admin" ? ["admin"] : ["admin", "client"],
    parameters: [ref("parameters", "X-Request-Id")],
    middleware: gate ? [gate] : [],
    request: {
      params: params.length > 0 ? z.object(Object.fromEntries(params.map((p) => [p, z.string()]))) : undefined,
      query: r.query,
      headers: requestHeaders(r),
      body: requestBody(r),
    },
    responses: { ...successes(r), ...errorResponses(codes, errorHeaders) },
  } as RouteConfig;
  return createRoute(config);
}

function operationId(method: string, path: string): string {
  return (
    method +
    path
      .split(/[^A-Za-z0-9]+/)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join("")
  );
}

const WHERE: Record<string, string | undefined> = { json: undefined, query: "query", header: "header", param: "path" };

/**
 * The one zod hook (validate.ts) for what `@hono/zod-openapi` validates from
 * a declaration: any failure is `400 VALIDATION_ERROR` with `details`.
 */
const defaultHook = (result: { success: boolean; error?: unknown; target: string }) => {
  if (!result.success) throw validationError(result.error as z.ZodError, WHERE[result.target]);
};

/** A route file's app: routes declared with `route()` and validated through the one hook. */
export function routesApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook });
}

/** The validated input of a declared route, typed by the schema that validated it. */
export function valid<S extends z.ZodType>(
  c: Context<AppEnv>,
  target: "json" | "query" | "header",
  _schema: S,
): z.output<S> {
  return (c.req.valid as (t: string) => unknown)(target) as z.output<S>;
}

/** A path parameter of a declared route (its path names it, so it is always there). */
export function pathParam(c: Context<AppEnv>, name: string): string {
  return c.req.param(name) ?? "";
}
