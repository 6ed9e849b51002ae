#!/usr/bin/env node
// @ts-check
/// <reference lib="dom" /> (the functions Chromium runs in the page)
// `npm run test:browser` (also the last step of `npm test`): GET /docs in a
// real headless Chromium (Debian's `chromium`, driven by playwright-core),
// with nothing reachable but the Worker itself.
//
// It starts the Worker (scripts/serve.mjs, fresh state, 127.0.0.1, a free
// port), opens /docs (Swagger UI, served from the Worker's static assets) with
// every request to another host aborted and recorded, and checks: Swagger UI
// renders every operation of /openapi.json, the reservation routes are
// visible, the filter, "Authorize" and a "Try it out" reservation work, no
// request left 127.0.0.1:<port>, and there was no console error, page error
// or Content-Security-Policy violation. Screenshots go to tests/browser/output/
// (git-ignored). Without Chromium (/usr/bin/chromium, or $CHROMIUM_PATH) it
// says so and exits 0; `.ci/run` installs it.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT_DIR = path.join(HERE, "output");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WATCHDOG_MS = 240_000;

/** The reservation routes (and their neighbours a client needs) that the page must show. */
const EXPECTED_ROUTES = [
  "POST /reservations",
  "GET /reservations/{id}",
  "POST /reservations/{id}/confirm",
  "POST /reservations/{id}/cancel",
  "POST /reservations/{id}/check-in",
  "GET /availability",
  "POST /waiting-list/join",
];

if (!existsSync(CHROMIUM)) {
  console.log(
    `docs-check: skipped: Chromium not installed at ${CHROMIUM} ` +
      "(Debian: apt-get install chromium, as .ci/run does; or set CHROMIUM_PATH)",
  );
  process.exit(0);
}

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const log = (line) => console.log(`docs-check: ${line}`);

const results = [];
/** Records one assertion; the run fails if any is false. */
function check(name, ok, detail = "") {
  results.push({ name, ok: Boolean(ok) });
  console.log(`  ${ok ? "ok  " : "FAIL"} ${name}${!ok && detail ? `: ${detail}` : ""}`);
}

/** The server once spawned (run() sets it, cleanup() stops it). */
let server = /** @type {any} */ (null);
let context = null;
let userDataDir = null;
let cleaning = null;
let interrupted = false;
/** Closes Chromium, stops the server, removes the temporary directories; safe to call twice. */
function cleanup() {
  cleaning ??= (async () => {
    await context?.close().catch((error) => console.error(`docs-check: closing Chromium: ${error.message}`));
    await server?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`docs-check: ${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}
setTimeout(() => {
  console.error(`docs-check: FAIL: not finished after ${WATCHDOG_MS / 1000} s`);
  cleanup().finally(() => process.exit(1));
}, WATCHDOG_MS).unref();

try {
  await run();
} catch (error) {
  if (interrupted) await new Promise(() => {}); // the signal handler exits
  check("the check ran to its end", false, error?.stack ?? String(error));
  const text = server?.logText();
  if (text) console.error(`--- server output ---\n${text.split("\n").slice(-40).join("\n")}`);
} finally {
  await cleanup();
}
const failed = results.filter((r) => !r.ok).length;
log(
  `${failed ? `FAILED (${failed} of ${results.length} checks)` : `passed (${results.length} checks)`} in ${elapsed()}`,
);
process.exit(failed ? 1 : 0);

async function run() {
  const { chromium } = await import("playwright-core");
  log(`Chromium at ${CHROMIUM}; starting the Worker (scripts/serve.mjs, fresh state)`);
  await startServer({
    onSpawn: (spawned) => {
      server = spawned;
    },
  });
  const base = server.base;
  const origin = new URL(base).origin;
  log(`Worker ready at ${base} (PID ${server.pid}) after ${elapsed()}`);

  const spec = /** @type {any} */ (await (await fetch(`${base}/openapi.json`)).json());
  const operations = Object.values(spec.paths).flatMap((item) => Object.keys(item)).length;

  userDataDir = mkdtempSync(path.join(os.tmpdir(), "docs-check-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
    serviceWorkers: "block", // so that every request of the page goes through the route below
    handleSIGINT: false, // cleanup() closes it
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  log(`Chromium ${context.browser()?.version() ?? ""} started after ${elapsed()}`);

  // Offline: only the Worker answers; anything else is aborted and recorded.
  const outside = new Set();
  const local = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    outside.add(url);
    return route.abort("blockedbyclient");
  });
  context.on("request", (request) => {
    const url = request.url();
    if (/^(data|blob|about):/.test(url)) return;
    if (new URL(url).origin === origin) local.push(`${request.method()} ${url.slice(origin.length)}`);
    else outside.add(url);
  });

  const errors = [];
  const failures = [];
  context.on("requestfailed", (request) => {
    if (new URL(request.url()).origin === origin) failures.push(`${request.url()}: ${request.failure()?.errorText}`);
  });
  // CSP violations also reach the console as errors; this records them by directive as well.
  await context.addInitScript(() => {
    /** @type {any} */ (window).__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      /** @type {any} */ (window).__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });

  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));

  try {
    await checkPage(page, { base, operations });
  } finally {
    mkdirSync(OUT_DIR, { recursive: true });
    const shot = path.join(OUT_DIR, "docs.png");
    await page.screenshot({ path: shot, fullPage: true }).then(
      () => log(`screenshot (full page): ${shot}`),
      (error) => console.error(`docs-check: no screenshot: ${error.message}`),
    );
  }

  const csp = await page.evaluate(() => /** @type {any} */ (window).__cspViolations);
  check("no request left the Worker's origin (nothing from a CDN)", outside.size === 0, [...outside].join(", "));
  check(
    `every request went to ${origin} and completed (${local.length} requests)`,
    failures.length === 0,
    failures.join("; "),
  );
  check("no Content-Security-Policy violation", csp.length === 0, csp.join("; "));
  check("no console error and no page error", errors.length === 0, errors.join("\n    "));
}

/** Loads /docs, reads what Swagger UI shows, and uses it once: filter, key, then a reservation through "Try it out". */
async function checkPage(page, { base, operations }) {
  const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
  const headers = response?.headers() ?? {};
  check("GET /docs answers 200 with HTML", response?.status() === 200 && /text\/html/.test(headers["content-type"]));
  const policy = headers["content-security-policy"] ?? "";
  check(
    "GET /docs sends a Content-Security-Policy that allows only this origin (no inline, no eval)",
    /(^|; )default-src 'none'/.test(policy) &&
      /(^|; )script-src 'self'(;|$)/.test(policy) &&
      /(^|; )style-src 'self'(;|$)/.test(policy) &&
      !/unsafe-|\*|https?:/.test(policy),
    policy || "no header",
  );
  const asset = await fetch(`${base}/docs/swagger-ui/swagger-ui-bundle.js`);
  await asset.arrayBuffer();
  check(
    "Swagger UI's bundle is served by the Worker, as script, with nosniff and a locked-down policy",
    asset.status === 200 &&
      /javascript/.test(asset.headers.get("content-type") ?? "") &&
      asset.headers.get("x-content-type-options") === "nosniff" &&
      asset.headers.get("content-security-policy") === "default-src 'none'; frame-ancestors 'none'",
    `${asset.status} ${JSON.stringify(Object.fromEntries(/** @type {any} */ (asset.headers)))}`,
  );

  // Swagger UI renders the document it fetched from /openapi.json.
  const ops = page.locator("#swagger-ui .opblock");
  await ops.first().waitFor({ state: "visible" });
  check(
    `Swagger UI rendered every operation of /openapi.json (${operations})`,
    (await ops.count()) === operations,
    `${await ops.count()} rendered`,
  );
  check(
    'the "Reservations" section is visible',
    await page.locator('#swagger-ui h3.opblock-tag[data-tag="Reservations"]').isVisible(),
  );
  for (const route of EXPECTED_ROUTES) {
    check(`shows ${route}`, await operation(page, route).locator(".opblock-summary").isVisible());
  }

  // The filter (tags and paths) hides every operation but the one asked for.
  await page.fill("input.operation-filter-input", "check-in");
  await page
    .waitForFunction(() => document.querySelectorAll("#swagger-ui .opblock").length <= 1, null, { timeout: 5000 })
    .catch(() => {}); // the check below says what is shown
  const shown = await page
    .locator("#swagger-ui .opblock")
    .evaluateAll((els) =>
      els.map(
        (el) =>
          `${el.querySelector(".opblock-summary-method")?.textContent} ${el.querySelector(".opblock-summary-path")?.dataset.path}`,
      ),
    );
  check(
    'the filter "check-in" leaves only POST /reservations/{id}/check-in',
    shown.length === 1 && shown[0] === "POST /reservations/{id}/check-in",
    JSON.stringify(shown),
  );
  await page.fill("input.operation-filter-input", "");
  await page.waitForFunction((n) => document.querySelectorAll("#swagger-ui .opblock").length === n, operations);

  // The key, through "Authorize" (bearer), as a reader of the page would give it.
  const resourceId = `docs-check-${randomBytes(4).toString("hex")}`;
  const created = await fetch(`${base}/resources`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ id: resourceId, type: "session", capacity: 2 }),
  });
  if (created.status !== 201) throw new Error(`POST /resources answered ${created.status}: ${await created.text()}`);
  await page.locator("#swagger-ui .auth-wrapper button.authorize").click();
  const dialog = page.locator("#swagger-ui .dialog-ux .modal-ux");
  await dialog.locator("input#auth-bearer-value").fill(server.token);
  await dialog.locator("button.modal-btn.authorize").click();
  check('"Authorize" takes the API key', await dialog.getByRole("heading", { name: "Authorized" }).isVisible());
  await dialog.locator("button.btn-done").click();

  // A reservation through the page: the operation's details, "Try it out", "Execute".
  const reserve = operation(page, "POST /reservations");
  await reserve.locator(".opblock-summary-control").click();
  const body = reserve.locator(".opblock-section-request-body");
  await body.waitFor({ state: "visible" });
  const text = (await body.innerText()).replace(/\s+/g, " ");
  check(
    "opening POST /reservations shows its request body and its fields",
    /application\/json/.test(text) && ["resource_id", "client_id", "quantity", "hold"].every((f) => text.includes(f)),
    text.slice(0, 300),
  );
  await reserve.getByRole("button", { name: "Try it out" }).click();
  await reserve
    .locator("textarea.body-param__text")
    .fill(JSON.stringify({ resource_id: resourceId, client_id: "docs-check", quantity: 1 }, null, 2));
  await reserve.getByRole("button", { name: "Execute" }).click();
  const live = reserve.locator(".live-responses-table tbody .response").first();
  await live.locator(".response-col_status").waitFor();
  const status = (await live.locator(".response-col_status").innerText()).trim();
  const answer = await live.locator(".response-col_description").innerText();
  check(
    '"Try it out" on POST /reservations answers 201 CONFIRMED',
    status === "201" && answer.includes('"CONFIRMED"') && answer.includes(resourceId),
    `${status} ${answer.slice(0, 300)}`,
  );
  mkdirSync(OUT_DIR, { recursive: true });
  const shot = path.join(OUT_DIR, "docs-reserve.png");
  await reserve.screenshot({ path: shot });
  log(`screenshot (POST /reservations, after "Try it out"): ${shot}`);
}

/** One rendered operation, e.g. "POST /reservations" (not "POST /reservations/{id}/confirm"). */
function operation(page, route) {
  const [method, path] = route.split(" ");
  return page
    .locator(`#swagger-ui .opblock.opblock-${method.toLowerCase()}`)
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
}
