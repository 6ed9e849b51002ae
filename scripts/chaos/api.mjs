// @ts-check
// HTTP calls to the engine: one request as the client log records it, and the
// operator reads the verification needs (all through the public HTTP API).

/** A request that gets no answer within this is counted as lost (and retried). */
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * @typedef {object} Lost   no complete response: connection refused or reset, or timed out
 * @property {true} lost
 * @property {string} error        why it was lost
 * @property {undefined} [status]
 * @property {undefined} [replayed]
 * @property {undefined} [body]
 */
/**
 * @typedef {object} Answered
 * @property {false} lost
 * @property {number} status
 * @property {boolean} replayed    `Idempotent-Replayed: true`
 * @property {any} body            the parsed JSON body (or the text if it is not JSON)
 * @property {undefined} [error]
 */
/** @typedef {Lost | Answered} Answer */

/**
 * One HTTP request. Never throws: a failure to get a whole response is `lost`.
 * @param {string} url
 * @param {{ method?: string, token?: string, body?: unknown, headers?: Record<string, string>, timeoutMs?: number }} o
 * @returns {Promise<Answer>}
 */
export async function request(url, o = {}) {
  const headers = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  try {
    const res = await fetch(url, {
      method: o.method ?? "GET",
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.timeout(o.timeoutMs ?? REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let body = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (CSV, Prometheus text, or a proxy's error page)
    }
    return { lost: false, status: res.status, replayed: res.headers.get("idempotent-replayed") === "true", body };
  } catch (err) {
    return { lost: true, error: String(err.cause?.code ?? err.cause?.message ?? err.name ?? err) };
  }
}

/** Admin reads for the verification; each retries a few times (they are reads) and throws if it cannot. */
export class Admin {
  /** @param {string} base @param {string} token */
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  async get(path, { raw = false } = {}) {
    for (let attempt = 1; ; attempt++) {
      const res = await request(`${this.base}${path}`, { token: this.token, timeoutMs: 60_000 });
      if (!res.lost && res.status < 500) {
        if (res.status !== 200 && !(raw && res.status === 404)) {
          throw new Error(`GET ${path} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
        }
        return res;
      }
      if (attempt === 5) throw new Error(`GET ${path}: ${res.lost ? res.error : res.status}`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }

  async post(path, body, key) {
    /** @type {Record<string, string>} */
    const headers = key ? { "idempotency-key": key } : {};
    for (let attempt = 1; ; attempt++) {
      const res = await request(`${this.base}${path}`, { method: "POST", token: this.token, body, headers });
      if (!res.lost && res.status < 500) return res;
      if (attempt === 5) throw new Error(`POST ${path}: ${res.lost ? res.error : res.status}`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }

  /** The whole timeline of a resource, every page, in `server_seq` order. */
  async timeline(id) {
    const items = [];
    let after = 0;
    for (;;) {
      const { body } = await this.get(
        `/admin/resources/${encodeURIComponent(id)}/timeline?after_seq=${after}&limit=1000`,
      );
      items.push(...body.items);
      if (body.next_after_seq === null) return items;
      after = body.next_after_seq;
    }
  }

  /**
   * Runs the reconciler over these resources (gaps and lost tails re-sent from
   * their objects, whatever their age); returns the runs' summaries.
   */
  async reconcile(ids) {
    const runs = [];
    for (let at = 0; at < ids.length; at += 1000) {
      const res = await this.post("/admin/reconciliation", {
        resource_ids: ids.slice(at, at + 1000),
        min_age_seconds: 0,
      });
      if (res.status !== 200 && res.status !== 202) throw new Error(`POST /admin/reconciliation: ${res.status}`);
      // 202: the run goes on in steps on the jobs queue; the latest run is this one until it ends.
      let run = res.body;
      while (run.status === "running") {
        await new Promise((r) => setTimeout(r, 250));
        run = (await this.get("/admin/reconciliation")).body.last_run;
      }
      if (run.status !== "completed") throw new Error(`reconciliation run ${run.id} ended ${run.status}: ${run.error}`);
      runs.push(run);
    }
    return runs;
  }

  /** The authoritative resource (from its Durable Object). */
  async resource(id) {
    return (await this.get(`/resources/${encodeURIComponent(id)}`)).body;
  }

  /** A reservation from its Durable Object, or null on 404. */
  async reservation(id) {
    const res = await this.get(`/reservations/${encodeURIComponent(id)}`, { raw: true });
    return res.status === 404 ? null : res.body;
  }

  /** Every row of the history export (D1), NDJSON. */
  async exportRows() {
    const { body } = await this.get("/admin/reservations/export?format=ndjson");
    const text = typeof body === "string" ? body : body === null ? "" : `${JSON.stringify(body)}\n`;
    return text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line));
  }

  /** The resource listing, from D1. */
  async listedResources(type) {
    const rows = [];
    let cursor = null;
    do {
      const q = `/resources?type=${encodeURIComponent(type)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { body } = await this.get(q);
      rows.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    return rows;
  }

  /** Every admin action in the audit log (a view of D1's decision_events). */
  async audit() {
    const rows = [];
    let cursor = null;
    do {
      const { body } = await this.get(`/admin/audit?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      rows.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    return rows;
  }

  /** Aggregates of D1's decision_events for one resource type. */
  async analytics(type) {
    return (await this.get(`/admin/analytics?type=${encodeURIComponent(type)}`)).body;
  }

  /** /metrics parsed into { "name{label=\"v\"}": number }. */
  async metrics() {
    const { body } = await this.get("/metrics");
    return parsePrometheus(String(body));
  }
}

/** Prometheus text → { "series": value }, comments skipped. */
export function parsePrometheus(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const space = line.lastIndexOf(" ");
    out[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return out;
}
