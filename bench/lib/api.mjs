// @ts-check
// The few API calls the scenarios make besides the load itself: creating
// resources and reading their authoritative counters for the checks.
import { mapLimit, sleep } from "./util.mjs";

/** The API's maximum capacity (src/http/schemas.ts): far more than any run here books. */
export const MAX_CAPACITY = 1_000_000;
const SETUP_CONCURRENCY = 32;

export function adminHeaders(server) {
  return { authorization: `Bearer ${server.token}`, "content-type": "application/json" };
}

/**
 * One API call. A network error is retried twice: a keep-alive socket left
 * idle during a load run can be closed by the server just as it is reused.
 */
export async function call(server, method, path, body) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${server.base}${path}`, {
        method,
        headers: adminHeaders(server),
        body: body && JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, attempt };
    } catch (error) {
      if (attempt === 3) throw new Error(`${method} ${path}: ${error.cause?.message ?? error.message}`);
      await sleep(100 * attempt);
    }
  }
}

/** Creates resources `ids` (all with `capacity`), a few at a time. */
export async function createResources(server, ids, capacity) {
  await mapLimit(ids, SETUP_CONCURRENCY, async (id) => {
    const res = await call(server, "POST", "/resources", { id, type: "bench", capacity });
    if (res.status !== 201)
      throw new Error(`POST /resources ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  });
  return ids;
}

/** Sum of confirmed and held over `ids`, and the ids whose confirmed + held exceed their capacity. */
async function totals(server, ids) {
  const states = await mapLimit(ids, SETUP_CONCURRENCY, async (id) => {
    const res = await call(server, "GET", `/resources/${id}`);
    if (res.status !== 200) throw new Error(`GET /resources/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  });
  return {
    confirmed: states.reduce((n, s) => n + s.confirmed, 0),
    held: states.reduce((n, s) => n + s.held, 0),
    overbooked: states.filter((s) => s.confirmed + s.held > s.capacity).map((s) => s.id),
  };
}

/**
 * Totals once they stop moving: requests cut off at the end of a run may
 * still be decided for a moment after autocannon has let go of them.
 */
export async function settledTotals(server, ids) {
  let last = await totals(server, ids);
  for (let i = 0; i < 20; i++) {
    await sleep(300);
    const now = await totals(server, ids);
    if (now.confirmed === last.confirmed && now.held === last.held) return now;
    last = now;
  }
  return last;
}
