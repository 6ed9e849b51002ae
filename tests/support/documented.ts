/**
 * Checks real responses against the OpenAPI document the Worker serves: the
 * status is documented for the operation, the body matches the documented
 * schema for that status and media type, and every API header it carries is
 * documented there. `expectDocumented` is the assertion the integration tests use.
 */
import type { Json } from "@hyperjump/json-pointer";
import { registerSchema, validate } from "@hyperjump/json-schema/openapi-3-1";
import { expect } from "vitest";
import { createApp } from "../../src/app";
import { apiDocument } from "../../src/http/api-document";

export type Doc = Record<string, any>;

const BASE = "https://engine.test/components/";
/** Headers of ours whose presence the document must announce (not the generic ones). */
const API_HEADERS = [
  "location",
  "etag",
  "idempotent-replayed",
  "retry-after",
  "x-cache-status",
  "content-disposition",
  "www-authenticate",
];

let doc: Doc | undefined;
/** The document, built once per test file (the same builder /openapi.json serves). */
export function openApiDoc(): Doc {
  if (!doc) {
    doc = JSON.parse(JSON.stringify(apiDocument(createApp()))) as Doc;
    // Each component schema becomes its own JSON Schema, its $refs absolute.
    for (const [name, schema] of Object.entries(doc.components.schemas as Doc)) {
      registerSchema(
        { $schema: "https://json-schema.org/draft/2020-12/schema", ...absolute(schema) },
        `${BASE}${name}`,
      );
    }
  }
  return doc;
}

const absolute = (schema: unknown): Doc =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${BASE}`));

let inline = 0;

/** The operation of a request: a literal path wins over a template ("/waiting-list/leave" over "/{id}"). */
export function operationOf(method: string, url: string): { path: string; op: Doc } | undefined {
  const d = openApiDoc();
  const path = new URL(url, "http://x").pathname;
  const candidates = Object.keys(d.paths)
    .filter((t) => new RegExp(`^${t.replace(/\{\w+\}/g, "[^/]+")}$`).test(path) && d.paths[t][method.toLowerCase()])
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  const found = candidates[0];
  return found ? { path: found, op: d.paths[found][method.toLowerCase()] } : undefined;
}

const deref = (d: Doc, x: Doc): Doc =>
  x?.$ref
    ? (x.$ref as string)
        .slice(2)
        .split("/")
        .reduce((o: Doc, k: string) => o?.[k], d)
    : x;

/** What is wrong with `res` as an answer to `method url` by the document; empty when nothing. Reads a clone. */
export async function problems(method: string, url: string, res: Response): Promise<string[]> {
  const d = openApiDoc();
  const found = operationOf(method, url);
  if (!found) return [`${method} ${url}: no such operation`];
  const where = `${method} ${found.path} ${res.status}`;
  const response = deref(d, found.op.responses[String(res.status)]);
  if (!response) return [`${where}: status not documented`];
  const out: string[] = [];
  const documentedHeaders = Object.keys(response.headers ?? {}).map((h) => h.toLowerCase());
  for (const h of API_HEADERS) {
    if (res.headers.has(h) && !documentedHeaders.includes(h)) out.push(`${where}: header ${h} not documented`);
  }
  const type = (res.headers.get("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
  const media = response.content?.[type];
  if (!media) return [...out, `${where}: content type ${type} not documented`];
  if (type !== "application/json") return out;
  const schema = media.schema as Doc;
  const id = schema.$ref ? absolute(schema).$ref : `https://engine.test/inline/${++inline}`;
  if (!schema.$ref)
    registerSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", ...absolute(schema) }, id);
  const body = (await res.clone().json()) as Json;
  const output = await validate(id, body, "BASIC");
  if (!output.valid) out.push(`${where}: body does not match: ${JSON.stringify(output.errors).slice(0, 600)}`);
  return out;
}

/**
 * What `call` (tests/helpers.ts) found wrong with the responses it got, for
 * routes the document lists; tests/setup.ts fails the test that leaves any.
 */
export const undocumented: string[] = [];

/** Notes what is wrong with `res` (a route the document does not list is not this check's business). */
export async function noteUndocumented(method: string, url: string, res: Response): Promise<void> {
  if (operationOf(method, url)) undocumented.push(...(await problems(method, url, res)));
}

/** Asserts `res` is a documented answer to `method url` (status, headers, body); returns it unread. */
export async function expectDocumented(method: string, url: string, res: Response): Promise<Response> {
  expect(await problems(method, url, res)).toEqual([]);
  return res;
}
