/**
 * The OpenAPI 3.1 document, built from the route table (openapi-routes.ts).
 * Request bodies and queries are the zod schemas that validate requests,
 * turned into JSON Schema, so the document cannot disagree with validation.
 */
import { ERROR_STATUS, type ErrorCode } from "../domain/errors";
import { IMPORT_HEADER } from "../wire/csv-import";
import {
  ERROR_CODES,
  type JsonSchema,
  jsonSchema,
  PARAMETERS,
  RESPONSE_BODIES,
  RESPONSE_HEADERS,
  SECURITY_SCHEMES,
} from "./openapi-components";
import { REQUEST_BODIES, ROUTES, type RouteDoc, TAGS } from "./openapi-routes";

export { ROUTES };

type Method = "get" | "post" | "put" | "patch" | "delete";

const WRITES = new Set<Method>(["post", "put", "patch", "delete"]);

/** The codes a route can answer with: its own, plus those its auth, inputs and method imply. */
export function errorCodes(r: RouteDoc): ErrorCode[] {
  const [method, path] = split(r);
  const write = WRITES.has(method);
  const codes = new Set<ErrorCode>(r.errors);
  if (r.auth !== "public") codes.add("UNAUTHENTICATED");
  if (r.auth === "admin") codes.add("FORBIDDEN");
  // Writes per key; any key this isolate has not cached is looked up within a per-IP allowance.
  if (r.auth !== "public") codes.add("RATE_LIMITED");
  // A key D1 never confirmed while D1 is down; and every route that reads D1 (decision 24).
  if (r.auth !== "public") codes.add("UNAVAILABLE");
  if (r.query || r.body || r.idempotent || r.ifMatch) codes.add("VALIDATION_ERROR");
  if (r.body) codes.add("UNSUPPORTED_MEDIA_TYPE");
  if (write) codes.add("PAYLOAD_TOO_LARGE");
  if (write && path !== "/admin/maintenance") codes.add("MAINTENANCE");
  if (r.idempotent) codes.add("IDEMPOTENCY_KEY_REUSED");
  if (r.ifMatch) codes.add("PRECONDITION_FAILED");
  codes.add("INTERNAL");
  return ERROR_CODES.filter((c) => codes.has(c));
}

function split(r: RouteDoc): [Method, string] {
  const [method = "", path = ""] = r.route.split(" ");
  return [method.toLowerCase() as Method, path];
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });

function operation(r: RouteDoc, responses: Record<string, unknown>) {
  const [method, path] = split(r);
  const parameters: unknown[] = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  if (r.query) {
    const q = jsonSchema(r.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      parameters.push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
    }
  }
  if (r.idempotent) parameters.push(ref("parameters", "Idempotency-Key"));
  if (r.ifMatch) parameters.push(ref("parameters", "If-Match"));
  parameters.push(ref("parameters", "X-Request-Id"));
  const roles = { public: "none (public)", admin: "admin", client: "admin or client" }[r.auth];
  return {
    operationId:
      method +
      path
        .split(/[^A-Za-z0-9]+/)
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join(""),
    summary: r.summary,
    description: [r.description, `Key: ${roles}.`].filter(Boolean).join("\n\n"),
    tags: [r.tag],
    security: r.auth === "public" ? [] : [{ bearer: [] }],
    "x-roles": r.auth === "public" ? [] : r.auth === "admin" ? ["admin"] : ["admin", "client"],
    parameters,
    ...(r.body ? { requestBody: requestBody(r.body) } : {}),
    responses: { ...successes(r), ...errorResponses(errorCodes(r), responses) },
  };
}

function requestBody(body: NonNullable<RouteDoc["body"]>) {
  if (body === "csv") {
    const description = `CSV (RFC 4180) with the header row \`${IMPORT_HEADER.join(",")}\` (the last column may be left out); each line as in POST /resources.`;
    return { required: true, description, content: { "text/csv": { schema: { type: "string" } } } };
  }
  const content = { "application/json": { schema: ref("schemas", body) } };
  return body === "EmptyBody"
    ? { required: false, description: "No body, or an empty JSON object.", content }
    : { required: true, content };
}

function successes(r: RouteDoc) {
  const headers: Record<string, unknown> = { "X-Request-Id": ref("headers", "X-Request-Id") };
  for (const name of [...(r.okHeaders ?? []), ...(r.idempotent ? ["Idempotent-Replayed"] : [])]) {
    headers[name] = ref("headers", name);
  }
  const content = successContent([r.returns].flat());
  return Object.fromEntries(
    Object.entries(r.ok).map(([status, description]) => [status, { description, headers, content }]),
  );
}

/** Component bodies as JSON (one of several when there are more); media types as they are. */
function successContent(returns: string[]) {
  const media = returns.filter((x) => x.includes("/"));
  if (media.length > 0) {
    return Object.fromEntries(
      media.map((t) => [t, { schema: { type: t === "application/json" ? "object" : "string" } }]),
    );
  }
  const refs = returns.map((name) => ref("schemas", name));
  return { "application/json": { schema: refs.length === 1 ? refs[0] : { oneOf: refs } } };
}

/** One response per status, shared in `components.responses` by the set of codes it names. */
function errorResponses(codes: ErrorCode[], shared: Record<string, unknown>) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => {
      const name = list.join("-or-");
      shared[name] ??= errorResponse(status, list);
      return [String(status), ref("responses", name)];
    }),
  );
}

/** The error body with `code` narrowed to `codes`, and the headers that come with `status`. */
function errorResponse(status: number, codes: ErrorCode[]) {
  const headers: Record<string, unknown> = {
    "X-Request-Id": ref("headers", "X-Request-Id"),
    "Cache-Control": ref("headers", "Cache-Control"),
  };
  if (status === 429 || status === 503) headers["Retry-After"] = ref("headers", "Retry-After");
  if (status === 401) headers["WWW-Authenticate"] = ref("headers", "WWW-Authenticate");
  const refusal = codes.some((c) => ["RESOURCE_FULL", "RESOURCE_CLOSED", "INVALID_STATE"].includes(c));
  const description = codes.join(", ") + (refusal ? ' (a refused decision also has "status": "REJECTED")' : "");
  const narrowed = { properties: { error: { properties: { code: { enum: codes } } } } };
  return {
    description,
    headers,
    content: { "application/json": { schema: { allOf: [ref("schemas", "Error"), narrowed] } } },
  };
}

/** The OpenAPI 3.1 document of every route in `ROUTES`. */
export function buildOpenApi() {
  const paths: Record<string, Record<string, unknown>> = {};
  const responses: Record<string, unknown> = {};
  for (const r of ROUTES) {
    const [method, path] = split(r);
    paths[path] = { ...paths[path], [method]: operation(r, responses) };
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, schema] of Object.entries(REQUEST_BODIES)) schemas[name] = jsonSchema(schema);
  for (const [name, schema] of Object.entries(RESPONSE_BODIES)) schemas[name] = jsonSchema(schema, "output");
  return {
    openapi: "3.1.1",
    info: {
      title: "Reservation Engine",
      version: "1.0.0",
      description: "Strong-consistency reservations: one Durable Object per resource, never overbooked.",
    },
    servers: [{ url: "/" }],
    tags: TAGS.map((name) => ({ name })),
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      responses,
      parameters: PARAMETERS,
      headers: RESPONSE_HEADERS,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}
