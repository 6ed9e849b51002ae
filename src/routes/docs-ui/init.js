// GET /docs: Swagger UI (swagger-ui-dist, served under /docs/swagger-ui/ by the
// Worker, src/routes/docs.ts) on this Worker's own /openapi.json. Loaded
// as a file because the page's Content-Security-Policy allows no inline script.

window.addEventListener("load", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout", // no top bar: it would let the page load any URL's document
    deepLinking: true,
    filter: true, // a box that filters the operations by tag
    displayRequestDuration: true,
    validatorUrl: null, // the default sends the document to validator.swagger.io
    queryConfigEnabled: false, // ignore ?url=… and other configuration from the query string
    persistAuthorization: false, // the API key is kept in memory only
  });
});
