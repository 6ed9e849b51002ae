/**
 * The API's own reference, public: `GET /openapi.json` (OpenAPI 3.1, built
 * from the zod schemas that validate requests) and `GET /docs`, Swagger UI on
 * that document. The page is this small HTML shell; Swagger UI's script and
 * style and the script that starts it are files this Worker serves under
 * /docs/ (docs-ui/, generated from swagger-ui-dist at build time;
 * docs/decisions.md, 45), so the page works offline and loads nothing from
 * another host. Its
 * Content-Security-Policy allows only same-origin scripts, styles and
 * requests: no inline script or style, no eval.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { type ApiDocument, apiDocument } from "../http/api-document";
import { type RouteSpec, route, routesApp } from "../http/route-spec";
import type { AppEnv } from "../http/types";
import { DOCS_INIT, SWAGGER_UI_BUNDLE, SWAGGER_UI_CSS, SWAGGER_UI_LICENSE } from "./docs-ui/files.generated";

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
      description:
        "Swagger UI on this document: an HTML shell whose script and style are this Worker's static assets; it loads nothing from elsewhere.",
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
  routes.openapi(page, (c) =>
    c.html(docsPage(openApi().value.info.title), 200, {
      "Content-Security-Policy": DOCS_CSP,
      "Cache-Control": "no-cache",
    }),
  );
  // The page's files: not API routes (undocumented on purpose), the same for every request.
  for (const [path, file] of Object.entries(DOCS_FILES)) {
    routes.get(path, (c) =>
      c.body(file.body, 200, {
        "Content-Type": file.type,
        "Cache-Control": "public, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        // Should a file ever be opened as a document, it may load and run nothing.
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
      }),
    );
  }
  return routes;
}

/** The files the page loads, and Swagger UI's licence, by path. */
const DOCS_FILES: Record<string, { body: string; type: string }> = {
  "/docs/swagger-ui/swagger-ui.css": { body: SWAGGER_UI_CSS, type: "text/css; charset=utf-8" },
  "/docs/swagger-ui/swagger-ui-bundle.js": { body: SWAGGER_UI_BUNDLE, type: "text/javascript; charset=utf-8" },
  "/docs/init.js": { body: DOCS_INIT, type: "text/javascript; charset=utf-8" },
  "/docs/swagger-ui/LICENSE": { body: SWAGGER_UI_LICENSE, type: "text/plain; charset=utf-8" },
};

/** What the page may load and run: files and requests of this origin (the icons of Swagger UI's style are data: URLs). */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The files the page loads, in the order of the page (served above). */
export const DOCS_ASSETS = [
  "/docs/swagger-ui/swagger-ui.css",
  "/docs/swagger-ui/swagger-ui-bundle.js",
  "/docs/init.js",
];

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);

function docsPage(title: string): string {
  const [css, bundle, init] = DOCS_ASSETS;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}: API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${css}">
</head>
<body>
<noscript><p>The reference needs JavaScript; the document itself is <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="${bundle}"></script>
<script src="${init}"></script>
</body>
</html>`;
}
