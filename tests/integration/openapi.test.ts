import { registerSchema, validate } from "@hyperjump/json-schema/openapi-3-1";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { createApp } from "../../src/app";
import { RESPONSE_BODIES } from "../../src/http/openapi-components";
import { CreateReservationBody } from "../../src/http/schemas";
import { DOCS_ASSETS, DOCS_CSP } from "../../src/routes/docs";
import { call, reserve } from "../helpers";

type Doc = Record<string, any>;

async function getDoc(): Promise<Doc> {
  const res = await call("GET", "/openapi.json", { auth: null });
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  return res.json();
}

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
      .routes.filter((r) => r.method !== "ALL" && !r.path.startsWith("/__bench"))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(documented(doc).sort()).toEqual([...new Set(served)].sort());
    for (const route of ["GET /health", "GET /openapi.json", "GET /docs", "DELETE /waiting-list/leave"]) {
      expect(documented(doc)).toContain(route);
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
    expect(error.properties.status).toMatchObject({ const: "REJECTED" });
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
    const notFound = resolve(doc, doc.paths["/availability"].get.responses["404"].$ref) as Doc;
    expect(Object.keys(notFound.headers)).toContain("Cache-Control");
    const refusal = resolve(doc, doc.paths["/reservations"].post.responses["409"].$ref) as Doc;
    expect(refusal.content["application/json"].schema.allOf[1].properties.error.properties.code.enum).toEqual([
      "RESOURCE_FULL",
      "RESOURCE_CLOSED",
      "INVALID_STATE",
    ]);
    const params = (path: string, method: string) =>
      doc.paths[path][method].parameters.map((p: Doc) => ((p.$ref ? resolve(doc, p.$ref) : p) as Doc).name);
    expect(params("/reservations", "post")).toEqual(["Idempotency-Key", "X-Request-Id"]);
    expect(params("/resources/{id}", "patch")).toEqual(["id", "If-Match", "X-Request-Id"]);
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

  it("describes the bodies the routes really answer with", async () => {
    const parse = async <S extends z.ZodType>(schema: S, res: Response, status: number) => {
      expect(res.status).toBe(status);
      const result = schema.safeParse(await res.json());
      expect(result.error?.issues ?? []).toEqual([]);
    };
    const B = RESPONSE_BODIES;
    const created = await call("POST", "/resources", {
      body: { type: "session", capacity: 5, waiting_list_enabled: true },
    });
    const { id } = (await created.clone().json()) as { id: string };
    await parse(B.Resource, created, 201);
    await parse(B.Reservation, await reserve(id, { hold: true }), 201);
    await parse(B.Error, await reserve(id, { quantity: 99 }), 409);
    await parse(B.Error, await call("GET", "/reservations/nope"), 404);
    await parse(B.Error, await call("GET", "/resources", { auth: null }), 401);
    const joined = await call("POST", "/waiting-list/join", { body: { resource_id: id, client_id: "w" } });
    await parse(B.WaitingListEntry, joined, 201);
    await parse(B.Availability, await call("GET", `/availability?resource_id=${id}`, { auth: null }), 200);
    await parse(B.ResourcePage, await call("GET", "/resources?limit=2"), 200);
    await parse(B.TimelinePage, await call("GET", `/admin/resources/${id}/timeline`), 200);
    await parse(B.Maintenance, await call("GET", "/admin/maintenance"), 200);
    await parse(B.ApiKeyCreated, await call("POST", "/admin/api-keys", { body: { name: "k", role: "client" } }), 201);
    await parse(B.ApiKeyList, await call("GET", "/admin/api-keys"), 200);
    await parse(B.AuditPage, await call("GET", "/admin/audit"), 200); // the key just issued, at least
    await parse(B.Health, await call("GET", "/health", { auth: null }), 200);
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
