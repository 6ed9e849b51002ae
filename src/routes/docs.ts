/**
 * The API's own reference, public: `GET /openapi.json` (OpenAPI 3.1, built
 * from the zod schemas that validate requests) and `GET /docs`, an
 * interactive page that the Worker serves whole: its HTML, style and script
 * are inline, so it works offline and loads nothing from another host. A
 * strict Content-Security-Policy lets only this response's own script and
 * style (by nonce) run.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { type ApiDocument, apiDocument } from "../http/api-document";
import { type RouteSpec, route, routesApp } from "../http/route-spec";
import type { AppEnv } from "../http/types";
import { DOCS_SCRIPT } from "./docs-script";

type OpenApi = ApiDocument;

const at = (r: Omit<RouteSpec, "tag" | "access">) => route("", { ...r, tag: "Reference", access: "public" });

const document = at({
  method: "get",
  path: "/openapi.json",
  summary: "This document",
  ok: {
    200: {
      description: "OpenAPI 3.1, generated from the route declarations.",
      body: { "application/json": z.object({}).meta({ description: "An OpenAPI 3.1 document." }) },
      headers: ["Cache-Control"],
    },
  },
});

const page = at({
  method: "get",
  path: "/docs",
  summary: "Interactive reference",
  ok: {
    200: {
      description: "An HTML page served whole by the Worker; it loads nothing from elsewhere.",
      body: { "text/html": z.string() },
      headers: ["Cache-Control"],
    },
  },
});

/** The reference routes of `app`, whose document covers every route mounted on it. */
export function reference(app: OpenAPIHono<AppEnv>): OpenAPIHono<AppEnv> {
  // Built on first use (every route is mounted by then), once per app: it depends only on the code.
  let built: { value: OpenApi; json: string } | undefined;
  const openApi = () => {
    if (!built) {
      const value = apiDocument(app);
      built = { value, json: JSON.stringify(value) };
    }
    return built;
  };
  const routes = routesApp();
  routes.openapi(document, (c) =>
    c.body(openApi().json, 200, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache" }),
  );
  routes.openapi(page, (c) => docsResponse(c, openApi().value));
  return routes;
}

function docsResponse(c: Context<AppEnv>, doc: OpenApi): Response {
  const nonce = base64(crypto.getRandomValues(new Uint8Array(16)));
  const csp = [
    "default-src 'self'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return c.html(docsPage(doc, nonce), 200, {
    "Content-Security-Policy": csp,
    "Cache-Control": "no-store",
  });
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);

/**
 * The page: a table of contents rendered here (so every route is listed even
 * without script), then the script renders each operation in full.
 */
export function docsPage(doc: OpenApi, nonce: string): string {
  const toc = (doc.tags ?? [])
    .map(({ name }) => {
      const items = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
        Object.entries(item as Record<string, { operationId: string; summary: string; tags: string[] }>)
          .filter(([, op]) => op.tags.includes(name))
          .map(
            ([method, op]) =>
              `<li><a href="#${escapeHtml(op.operationId)}"><span class="method ${method}">${method.toUpperCase()}</span> ` +
              `<code>${escapeHtml(path)}</code></a> ${escapeHtml(op.summary)}</li>`,
          ),
      );
      return `<h3>${escapeHtml(name)}</h3><ul>${items.join("")}</ul>`;
    })
    .join("");
  const { title, version, description } = doc.info;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}: API reference</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)} <small>v${escapeHtml(version)}, OpenAPI ${escapeHtml(doc.openapi)}</small></h1>
<p>${escapeHtml(description ?? "")} The raw document: <a href="/openapi.json">/openapi.json</a>.</p>
<div class="bar">
<label>API key <input id="key" type="password" autocomplete="off" placeholder="sent as Authorization: Bearer"></label>
<label>Filter <input id="filter" type="search" placeholder="e.g. reservations"></label>
</div>
</header>
<nav id="toc">${toc}</nav>
<main id="app"><p>Loading the reference from /openapi.json…</p>
<noscript><p>The full reference needs JavaScript; the routes are listed above.</p></noscript></main>
<script nonce="${nonce}">${DOCS_SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
:root { color-scheme: light dark; --line: #8884; --muted: #888; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 1rem 4rem; }
h1 small { font-size: 0.5em; color: var(--muted); font-weight: normal; }
code, pre, textarea, input { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
.bar { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.bar input { margin-left: 0.4rem; padding: 0.3rem; min-width: 16rem; }
nav#toc { columns: 2 24rem; border: 1px solid var(--line); padding: 0 1rem 1rem; margin: 1rem 0; }
nav#toc h3 { break-after: avoid; margin: 0.8rem 0 0.2rem; }
nav#toc ul { list-style: none; padding: 0; margin: 0; }
nav#toc a { text-decoration: none; color: inherit; }
.method { display: inline-block; min-width: 4.2em; font: bold 12px ui-monospace, monospace; text-align: center; }
.get { color: #2a7ae2; } .post { color: #1a9a4b; } .put, .patch { color: #c77c02; } .delete { color: #d33; }
details.op { border: 1px solid var(--line); border-radius: 6px; margin: 0.4rem 0; padding: 0.3rem 0.7rem; }
details.op > summary { cursor: pointer; }
.sum { color: var(--muted); }
.badge { float: right; font-size: 12px; border: 1px solid var(--line); border-radius: 9px; padding: 0 0.5rem; }
.req { color: #d33; font-size: 12px; }
.rules { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 0.3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.4rem; text-align: left; vertical-align: top; }
details.res { margin: 0.2rem 0; }
.s2 > summary b { color: #1a9a4b; } .s4 > summary b { color: #c77c02; } .s5 > summary b { color: #d33; }
form.try { border-top: 1px dashed var(--line); margin-top: 0.6rem; }
form.try label { display: flex; gap: 0.6rem; margin: 0.3rem 0; }
form.try label span { min-width: 13rem; }
form.try input, form.try textarea { flex: 1; padding: 0.3rem; }
pre.out { white-space: pre-wrap; word-break: break-all; max-height: 24rem; overflow: auto; }
pre.out:empty { display: none; }
`;
