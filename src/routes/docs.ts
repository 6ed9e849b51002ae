/**
 * The API's own reference, public: `GET /openapi.json` (OpenAPI 3.1, built
 * from the zod schemas that validate requests) and `GET /docs`, Swagger UI on
 * that document. The page is this small HTML shell; Swagger UI's script and
 * style and the script that starts it are static assets of this Worker under
 * /docs/ (public/, wrangler.toml [assets]; docs/decisions.md, 45), so the page
 * works offline and loads nothing from another host. Its
 * Content-Security-Policy allows only same-origin scripts, styles and
 * requests: no inline script or style, no eval.
 */
import { Hono } from "hono";
import { buildOpenApi } from "../http/openapi";
import type { AppEnv } from "../http/types";

type OpenApi = ReturnType<typeof buildOpenApi>;

/** Built once per isolate: the document depends only on the code. */
let built: { value: OpenApi; json: string } | undefined;
function openApi() {
  if (!built) {
    const value = buildOpenApi();
    built = { value, json: JSON.stringify(value) };
  }
  return built;
}

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

/** The static assets the page loads (public/docs/; swagger-ui/ is copied from node_modules at build time). */
export const DOCS_ASSETS = [
  "/docs/swagger-ui/swagger-ui.css",
  "/docs/swagger-ui/swagger-ui-bundle.js",
  "/docs/init.js",
];

export const reference = new Hono<AppEnv>();

reference.get("/openapi.json", (c) =>
  c.body(openApi().json, 200, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache" }),
);

reference.get("/docs", (c) =>
  c.html(docsPage(openApi().value.info.title), 200, {
    "Content-Security-Policy": DOCS_CSP,
    "Cache-Control": "no-cache",
  }),
);

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
