import { registerSchema, validate } from "@hyperjump/json-schema/openapi-3-1";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { ERROR_STATUS } from "../../src/domain/errors";
import { CreateReservationBody } from "../../src/http/schemas";
import { DOCS_ASSETS, DOCS_CSP } from "../../src/routes/docs";
import { call, reserve } from "../helpers";
import { expectDocumented, openApiDoc } from "../support/documented";

type Doc = Record<string, any>;

async function getDoc(): Promise<Doc> {
  const res = await call("GET", "/openapi.json", { auth: null });
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(res.headers.get("Cache-Control")).toBe("no-cache");
  return res.json();
}

/** The schema of a response, through its $refs. */
function responseSchema(doc: Doc, path: string, method: string, status: string): Doc {
  const response = response$(doc, doc.paths[path][method].responses[status]);
  return resolve(doc, response.content["application/json"].schema.$ref) as Doc;
}

/** A response object, through its $ref. */
const response$ = (doc: Doc, r: Doc): Doc => (r.$ref ? (resolve(doc, r.$ref) as Doc) : r);

function resolve(doc: Doc, ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<any>((o, k) => o?.[k], doc);
}

/** "METHOD /path" of every operation in the document. */
function documented(doc: Doc): string[] {
  return Object.entries(doc.paths as Record<string, object>).flatMap(([path, item]) =>
    Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
  );
}

describe("GET /openapi.json", () => {
  it("is public and a valid OpenAPI 3.1 document whose $refs all resolve", async () => {
    const doc = await getDoc();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    // The official 3.1 schema with Schema Objects checked against the 2020-12 dialect.
    const output = await validate("https://spec.openapis.org/oas/3.1/schema-base", doc as any, "BASIC");
    expect("errors" in output ? output.errors : []).toEqual([]);
    expect(output.valid).toBe(true);
    const refs = new Set([...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string));
    expect(refs.size).toBeGreaterThan(10);
    for (const ref of refs) expect(resolve(doc, ref), ref).toBeDefined();
  });

  it("documents every route the app serves, and no other", async () => {
    const doc = await getDoc();
    const served = createApp()
      // Not API routes: the benchmarks' floor, and the files the /docs page loads.
      .routes.filter((r) => r.method !== "ALL" && !r.path.startsWith("/__bench") && !r.path.startsWith("/docs/"))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(documented(doc).sort()).toEqual([...new Set(served)].sort());
    for (const route of ["GET /health", "GET /openapi.json", "GET /docs", "DELETE /waiting-list/leave"]) {
      expect(documented(doc)).toContain(route);
    }
    // route() was told where its file is mounted: the operationId it made names the served path.
    for (const route of documented(doc)) {
      const [method = "", path = ""] = route.split(" ");
      const words = path.split(/[^A-Za-z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1));
      expect(doc.paths[path][method.toLowerCase()].operationId, route).toBe(method.toLowerCase() + words.join(""));
    }
  });

  it("marks public routes as needing no key and the others as bearer", async () => {
    const doc = await getDoc();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const PUBLIC = ["GET /availability", "GET /health", "GET /ready", "GET /openapi.json", "GET /docs"];
    for (const route of documented(doc)) {
      const [method, path] = route.split(" ") as [string, string];
      const op = doc.paths[path][method.toLowerCase()];
      expect(op.security, route).toEqual(PUBLIC.includes(route) ? [] : [{ bearer: [] }]);
      expect(op.responses["401"] === undefined, route).toBe(PUBLIC.includes(route));
    }
  });

  it("documents the error body and every status of the error table where it applies", async () => {
    const doc = await getDoc();
    const error = doc.components.schemas.Error;
    expect(error.required).toEqual(["error"]);
    expect(error.properties.error.required).toEqual(["code", "message", "request_id"]);
    expect(error.properties.error.properties.code.enum).toContain("IDEMPOTENCY_KEY_REUSED");
    expect(error.properties.status).toMatchObject({ enum: ["REJECTED"] });
    const statuses = (method: string, path: string): string[] => Object.keys(doc.paths[path][method].responses);
    const all = new Set(
      documented(doc).flatMap((route) => {
        const [method = "", path = ""] = route.split(" ");
        return statuses(method.toLowerCase(), path);
      }),
    );
    for (const s of ["400", "401", "403", "404", "409", "412", "413", "415", "422", "429", "500", "503"]) {
      expect(all, s).toContain(s);
    }
    expect(statuses("post", "/reservations")).toEqual(
      expect.arrayContaining(["201", "400", "401", "404", "409", "413", "415", "422", "429", "500", "503"]),
    );
    expect(statuses("patch", "/resources/{id}")).toEqual(expect.arrayContaining(["403", "409", "412"]));
    expect(statuses("get", "/health")).toEqual(["200", "500"]);
    // Any key route: 429 (key lookups per IP) and 503 (D1 down); D1-backed reads too.
    for (const [method, path] of [
      ["get", "/resources"],
      ["get", "/admin/audit"],
      ["get", "/admin/api-keys"],
      ["get", "/admin/reservations/export"],
      ["get", "/metrics"],
    ] as const) {
      expect(statuses(method, path), path).toEqual(expect.arrayContaining(["429", "503"]));
    }
    const notFound = response$(doc, doc.paths["/availability"].get.responses["404"]);
    expect(Object.keys(notFound.headers)).toContain("Cache-Control");
    const refusal = responseSchema(doc, "/reservations", "post", "409");
    expect(refusal.properties.error.properties.code.enum).toEqual([
      "RESOURCE_FULL",
      "RESOURCE_CLOSED",
      "INVALID_STATE",
    ]);
    // Each error response lists exactly the codes of its status, and 429/503 announce Retry-After.
    for (const route of documented(doc)) {
      const [method = "", path = ""] = route.split(" ");
      for (const [status, response] of Object.entries(doc.paths[path][method.toLowerCase()].responses as Doc)) {
        if (Number(status) < 400) continue;
        const codes = responseSchema(doc, path, method.toLowerCase(), status).properties.error.properties.code.enum;
        for (const code of codes)
          expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS], `${route} ${code}`).toBe(Number(status));
        if (status === "429" || status === "503") {
          expect(Object.keys(response$(doc, response).headers), route).toContain("Retry-After");
        }
      }
    }
    const params = (path: string, method: string) =>
      doc.paths[path][method].parameters.map((p: Doc) => ((p.$ref ? resolve(doc, p.$ref) : p) as Doc).name);
    expect(params("/reservations", "post")).toEqual(["X-Request-Id", "Idempotency-Key"]);
    expect(params("/resources/{id}", "patch")).toEqual(["X-Request-Id", "id", "If-Match"]);
    const key = doc.paths["/reservations"].post.parameters.find((p: Doc) => p.name === "Idempotency-Key");
    expect(key.description).toMatch(/scoped to the caller, the route and the resource/);
  });

  it("states what the server enforces beyond the schemas' types", async () => {
    const doc = await getDoc();
    const S = doc.components.schemas;
    expect(doc.info.description).toMatch(/64 KiB/);
    expect(doc.info.description).toMatch(/5 MiB/);
    expect(S.JoinWaitingListBody.properties.callback_url.pattern).toBe("^[Hh][Tt][Tt][Pp][Ss]://");
    const ids = doc.paths["/availability"].get.parameters.find((p: Doc) => p.name === "resource_ids");
    expect(ids.schema.description).toMatch(/at most 100/);
    // metadata: an object with any properties (generators type it Record<string, unknown>).
    for (const name of ["CreateReservationBody", "CreateResourceBody", "UpdateResourceBody"]) {
      expect(S[name].properties.metadata, name).toMatchObject({ type: "object", additionalProperties: {} });
    }
    // A field with a default is optional to send.
    expect(S.CreateResourceBody.required.sort()).toEqual(["capacity", "type"]);
    expect(S.JoinWaitingListBody.required.sort()).toEqual(["client_id", "resource_id"]);
    const imported = doc.paths["/admin/resources/import"].post.requestBody;
    expect(Object.keys(imported.content)).toEqual(["text/csv"]);
    const exported = doc.paths["/admin/reservations/export"].get.responses["200"];
    expect(Object.keys(exported.content).sort()).toEqual(["application/x-ndjson", "text/csv"]);
    expect(Object.keys(exported.headers)).toContain("Content-Disposition");
    expect(Object.keys(doc.paths["/resources/{id}"].get.responses["200"].headers)).toContain("ETag");
    expect(Object.keys(doc.paths["/reservations"].post.responses["201"].headers)).toEqual(
      expect.arrayContaining(["Location", "Idempotent-Replayed"]),
    );
  });

  it("describes request bodies and queries exactly as the zod schemas validate them", async () => {
    const doc = await getDoc();
    const body = doc.components.schemas.CreateReservationBody;
    expect(doc.paths["/reservations"].post.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/CreateReservationBody",
    });
    expect([...body.required].sort()).toEqual(["client_id", "resource_id"]);
    expect(body.properties.quantity).toMatchObject({ type: "integer", minimum: 1, default: 1 });
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(body.properties).sort()).toEqual(Object.keys(CreateReservationBody.shape).sort());
    const limit = doc.paths["/resources"].get.parameters.find((p: Doc) => p.name === "limit");
    expect(limit).toMatchObject({ in: "query", required: false, schema: { minimum: 1, maximum: 200, default: 50 } });

    // The document and zod accept and refuse the same bodies.
    registerSchema(
      { $schema: "https://json-schema.org/draft/2020-12/schema", ...body },
      "https://engine.test/schemas/CreateReservationBody",
    );
    const ok = { resource_id: "yoga-1", client_id: "user-1" };
    const samples = [
      ok,
      { ...ok, quantity: 3, hold: true, metadata: { a: [1] } },
      { ...ok, quantity: 0 },
      { ...ok, quantity: 1.5 },
      { ...ok, quantity: 1_000_001 },
      { ...ok, hold: "yes" },
      { ...ok, extra: 1 },
      { ...ok, resource_id: "no spaces" },
      { ...ok, client_id: "" },
      { ...ok, client_id: "tab\there" },
      { client_id: "user-1" },
    ];
    for (const sample of samples) {
      const fromDoc = (await validate("https://engine.test/schemas/CreateReservationBody", sample as any)).valid;
      expect(fromDoc, JSON.stringify(sample)).toBe(CreateReservationBody.safeParse(sample).success);
    }
  });

  it("describes the responses the routes really give: status, headers and body", async () => {
    const checked = async (method: string, path: string, options: Parameters<typeof call>[2] = {}) =>
      expectDocumented(method, path, await call(method, path, options));
    const created = await checked("POST", "/resources", {
      body: { type: "session", capacity: 5, waiting_list_enabled: true },
      headers: { "Idempotency-Key": "openapi-create-1" },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const replay = await checked("POST", "/resources", {
      body: { type: "session", capacity: 5, waiting_list_enabled: true },
      headers: { "Idempotency-Key": "openapi-create-1" },
    });
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    const held = await expectDocumented("POST", "/reservations", await reserve(id, { hold: true }));
    expect(held.status).toBe(201);
    const hold = (await held.json()) as { id: string };
    expect((await expectDocumented("POST", "/reservations", await reserve(id, { quantity: 99 }))).status).toBe(409);
    expect((await checked("POST", `/reservations/${hold.id}/confirm`)).status).toBe(200);
    expect((await checked("GET", `/reservations/${hold.id}`)).status).toBe(200);
    expect((await checked("POST", `/reservations/${hold.id}/check-in`)).status).toBe(200);
    expect((await checked("POST", `/reservations/${hold.id}/cancel`)).status).toBe(409);
    expect((await checked("GET", "/reservations/nope")).status).toBe(404);
    expect((await checked("GET", "/resources", { auth: null })).status).toBe(401);
    expect(
      (await checked("POST", "/reservations", { raw: "{", headers: { "Content-Type": "application/json" } })).status,
    ).toBe(400);
    expect(
      (await checked("POST", "/reservations", { raw: "x", headers: { "Content-Type": "text/plain" } })).status,
    ).toBe(415);
    expect(
      (await checked("POST", "/reservations", { body: { resource_id: id, client_id: "a", nope: 1 } })).status,
    ).toBe(400);
    expect(
      (
        await checked("POST", "/reservations", {
          raw: "x".repeat(70_000),
          headers: { "Content-Type": "application/json" },
        })
      ).status,
    ).toBe(413);
    expect(
      (await checked("PATCH", `/resources/${id}`, { body: { capacity: 6 }, headers: { "If-Match": '"999"' } })).status,
    ).toBe(412);
    expect(
      (await checked("PATCH", `/resources/${id}`, { body: { capacity: 6 }, headers: { "If-Match": "nope" } })).status,
    ).toBe(400);
    expect((await checked("GET", `/resources/${id}`)).status).toBe(200);
    const joined = await checked("POST", "/waiting-list/join", { body: { resource_id: id, client_id: "w" } });
    expect(joined.status).toBe(201);
    expect((await checked("GET", `/availability?resource_id=${id}`, { auth: null })).status).toBe(200);
    expect((await checked("GET", `/availability?resource_ids=${id},nope`, { auth: null })).status).toBe(200);
    expect((await checked("GET", "/availability?resource_id=nope", { auth: null })).status).toBe(404);
    expect((await checked("GET", "/availability", { auth: null })).status).toBe(400);
    expect((await checked("GET", "/resources?limit=2")).status).toBe(200);
    expect((await checked("GET", `/admin/resources/${id}/timeline`)).status).toBe(200);
    expect((await checked("GET", "/admin/maintenance")).status).toBe(200);
    expect((await checked("POST", "/admin/api-keys", { body: { name: "k", role: "client" } })).status).toBe(201);
    expect((await checked("GET", "/admin/api-keys")).status).toBe(200);
    expect((await checked("GET", "/admin/audit")).status).toBe(200);
    expect((await checked("GET", "/admin/reservations/export?format=csv")).status).toBe(200);
    expect((await checked("GET", "/health", { auth: null })).status).toBe(200);
    expect((await checked("GET", "/openapi.json", { auth: null })).status).toBe(200);
  });

  it("is the document the test helper checks against", async () => {
    expect(await getDoc()).toEqual(openApiDoc());
  });
});

describe("GET /docs", () => {
  it("serves Swagger UI's shell: only this Worker's assets, nothing inline, nothing from another host", async () => {
    const res = await call("GET", "/docs", { auth: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    // Every src and href is a path on this Worker (or the empty data: icon).
    const links = [...html.matchAll(/\b(?:src|href|action)\s*=\s*["']?([^"'\s>]*)/gi)].map((m) => m[1] as string);
    expect(links.filter((l) => l !== "data:,").sort()).toEqual([...DOCS_ASSETS, "/openapi.json"].sort());
    for (const link of links) expect(link, link).toMatch(/^(\/(?!\/)|data:,$)/);
    expect(html).not.toMatch(/https?:\/\//i);
    // No inline script or style: every script has a src, and there is no style element or attribute.
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => [/\bsrc="\/docs\//.test(m[1] ?? ""), m[2]])).toEqual([
      [true, ""],
      [true, ""],
    ]);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son\w+=/i);
    expect(html).toContain('<div id="swagger-ui"></div>');
  });

  it("sends a Content-Security-Policy that lets only this origin's files run", async () => {
    const res = await call("GET", "/docs", { auth: null });
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toBe(DOCS_CSP);
    const directives = Object.fromEntries(
      csp.split(";").map((d) => {
        const [name, ...sources] = d.trim().split(/\s+/);
        return [name, sources];
      }),
    );
    expect(directives).toMatchObject({
      "default-src": ["'none'"],
      "script-src": ["'self'"],
      "style-src": ["'self'"],
      "connect-src": ["'self'"],
      "frame-ancestors": ["'none'"],
      "base-uri": ["'none'"],
    });
    expect(csp).not.toMatch(/unsafe-|\*|https?:/);
    // Other routes get no CSP (unchanged behaviour).
    expect((await call("GET", "/health", { auth: null })).headers.get("Content-Security-Policy")).toBeNull();
  });
});
