#!/usr/bin/env node
// @ts-check
/// <reference lib="dom" /> (the functions Chromium runs in the page)
// `npm run test:browser` (also the last step of `npm test`): GET /docs in a
// real headless Chromium (Debian's `chromium`, driven by playwright-core),
// with nothing reachable but the Worker itself.
//
// It starts the Worker (scripts/serve.mjs, fresh state, 127.0.0.1, a free
// port), opens /docs with every request to another host aborted and recorded,
// and checks: the page renders every operation of /openapi.json, the
// reservation routes are visible, the filter and a "Try it" reservation work,
// no request left 127.0.0.1:<port>, and there was no console error, page error
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

/** Loads /docs, reads what it shows, and uses it once: filter, then a reservation through "Try it". */
async function checkPage(page, { base, operations }) {
  const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
  const headers = response?.headers() ?? {};
  check("GET /docs answers 200 with HTML", response?.status() === 200 && /text\/html/.test(headers["content-type"]));
  const policy = headers["content-security-policy"] ?? "";
  check(
    "GET /docs sends a nonce-based Content-Security-Policy",
    /script-src 'nonce-[^']+'/.test(policy) && !policy.includes("unsafe-inline"),
    policy || "no header",
  );

  // The table of contents is rendered by the Worker; the reference itself by the page's script.
  const toc = (await page.locator("nav#toc").innerText()).replace(/\s+/g, " ");
  const missingInToc = EXPECTED_ROUTES.filter((route) => !toc.includes(route));
  check("the table of contents lists the reservation routes", missingInToc.length === 0, missingInToc.join(", "));

  const ops = page.locator("main#app details.op[data-search]");
  await ops.first().waitFor({ state: "visible" });
  check(
    `the script rendered every operation of /openapi.json (${operations})`,
    (await ops.count()) === operations,
    `${await ops.count()} rendered`,
  );
  const reservations = page.locator("section#tag-Reservations");
  check(
    'the "Reservations" section is visible',
    await reservations.getByRole("heading", { name: "Reservations", exact: true }).isVisible(),
  );
  const summaries = (await page.locator("main#app details.op > summary").allInnerTexts()).map((t) =>
    t.replace(/\s+/g, " ").trim(),
  );
  for (const route of EXPECTED_ROUTES) {
    const summary = operation(page, route).locator(":scope > summary");
    const shown = summaries.some((t) => t.startsWith(`${route} `)) && (await summary.isVisible());
    check(`shows ${route}`, shown);
  }

  // The filter hides every operation but the one asked for.
  await page.fill("#filter", "check-in");
  const shown = await page.locator("main#app details.op[data-search]:not([hidden]) > summary").allInnerTexts();
  check(
    'the filter "check-in" leaves only POST /reservations/{id}/check-in',
    shown.length === 1 && shown[0]?.replace(/\s+/g, " ").startsWith("POST /reservations/{id}/check-in "),
    JSON.stringify(shown),
  );
  await page.fill("#filter", "");

  // A reservation through the page: the key field, the operation's details, its "Try it" form.
  const resourceId = `docs-check-${randomBytes(4).toString("hex")}`;
  const created = await fetch(`${base}/resources`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ id: resourceId, type: "session", capacity: 2 }),
  });
  if (created.status !== 201) throw new Error(`POST /resources answered ${created.status}: ${await created.text()}`);
  await page.fill("#key", server.token);
  const reserve = operation(page, "POST /reservations");
  await reserve.locator(":scope > summary").click();
  const text = (await reserve.innerText()).replace(/\s+/g, " ");
  const body = text.slice(text.indexOf("Request body, application/json"));
  check(
    "opening POST /reservations shows its request body and its fields",
    (await reserve.getAttribute("open")) !== null &&
      body.length < text.length &&
      ["resource_id", "client_id", "quantity", "hold"].every((field) => body.includes(field)),
    text.slice(0, 300),
  );
  await reserve
    .locator("form.try textarea")
    .fill(JSON.stringify({ resource_id: resourceId, client_id: "docs-check", quantity: 1 }, null, 2));
  await reserve.getByRole("button", { name: "Send POST /reservations" }).click();
  const out = reserve.locator("pre.out");
  await out.filter({ hasText: /^\d{3} / }).waitFor();
  const answer = await out.innerText();
  check(
    '"Try it" on POST /reservations answers 201 CONFIRMED',
    /^201 /.test(answer) && answer.includes('"CONFIRMED"') && answer.includes(resourceId),
    answer.slice(0, 300),
  );
  mkdirSync(OUT_DIR, { recursive: true });
  const shot = path.join(OUT_DIR, "docs-reserve.png");
  await reserve.screenshot({ path: shot });
  log(`screenshot (POST /reservations, after "Try it"): ${shot}`);
}

/** One rendered operation, e.g. "POST /reservations" (not "POST /reservations/{id}/confirm"). */
function operation(page, route) {
  return page.locator(`main#app details.op[data-search^="${route.toLowerCase()} "]`);
}
