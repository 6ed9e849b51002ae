// @ts-check
// autocannon runs and what we read from their results.
import autocannon from "autocannon";
import { cpuSeconds, workerdPids } from "./proc.mjs";
import { round, sleep } from "./util.mjs";

/** The server counts as idle below this share of one core... */
const IDLE_CPU = 0.1;
/** ...measured over this window; a busy server is waited for at most IDLE_WAIT_MS. */
const IDLE_WINDOW_MS = 500;
const IDLE_WAIT_MS = 60_000;

let active = null;

/** Stops the running load, if any (on a signal). */
export function stopLoad() {
  active?.stop();
}

/**
 * Waits until the server's workerd is idle: work left behind by the previous
 * run (outbox drains to D1 and KV, from up to 1,000 objects) must not be
 * measured as part of the next one. Returns the seconds waited.
 */
export async function waitForIdle(server) {
  const pids = workerdPids(server.pid);
  const start = Date.now();
  while (pids.length > 0 && Date.now() - start < IDLE_WAIT_MS) {
    const before = cpuSeconds(pids);
    await sleep(IDLE_WINDOW_MS);
    if (cpuSeconds(pids) - before < (IDLE_CPU * IDLE_WINDOW_MS) / 1000) break;
  }
  return (Date.now() - start) / 1000;
}

/**
 * One autocannon run against `server`, once it is idle. `amount` (a request
 * count) replaces `duration`; then autocannon waits for every answer. With a
 * duration it does not: at the first sample tick after the deadline it
 * destroys its sockets, and requests still in flight are never answered to
 * it (see `unanswered`).
 * @param {any} server
 * @param {{ connections: number, duration?: number, amount?: number, [option: string]: any }} options autocannon's, mostly
 */
export async function runLoad(server, { connections, duration, amount, ...request }) {
  const idleAfter = await waitForIdle(server);
  const errorKinds = {};
  const startedAt = Date.now();
  let lastAnswerAt = startedAt;
  const instance = autocannon({
    connections,
    pipelining: 1,
    timeout: 10,
    ...(amount ? { amount } : { duration }),
    ...request,
  });
  instance.on("response", () => {
    lastAnswerAt = Date.now();
  });
  instance.on("reqError", (error) => {
    errorKinds[error.code ?? error.message] = (errorKinds[error.code ?? error.message] ?? 0) + 1;
  });
  active = instance;
  try {
    const result = await instance;
    // A run bounded by `amount` ends mid-second: its rate is answers over the time to the last one.
    const seconds = amount ? (lastAnswerAt - startedAt) / 1000 : null;
    return { ...summarize(result, seconds), error_kinds: errorKinds, idle_wait_s: round(idleAfter) };
  } finally {
    active = null;
  }
}

function summarize(result, seconds) {
  const status = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) status[code] = count;
  const responses = Object.values(status).reduce((a, b) => a + b, 0);
  return {
    // Mean of autocannon's one-second samples, unless the caller timed the run.
    rps: round(seconds ? responses / seconds : result.requests.mean),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    elapsed_s: result.duration,
    responses,
    sent: result.requests.sent,
    // Sent but never answered to us (cut off at the deadline, or timed out):
    // the server may still have decided them.
    unanswered: Math.max(0, result.requests.sent - responses),
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    count5xx: result["5xx"],
  };
}
