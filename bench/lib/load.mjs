// autocannon runs and what we read from their results.
import autocannon from "autocannon";
import { round } from "./util.mjs";

let active = null;

/** Stops the running load, if any (on a signal). */
export function stopLoad() {
  active?.stop();
}

/**
 * One autocannon run. `amount` (a request count) replaces `duration`; then
 * autocannon waits for every answer. With a duration it does not: at the
 * first sample tick after the deadline it destroys its sockets, and requests
 * still in flight are never answered to it (see `unanswered`).
 */
export async function runLoad({ connections, duration, amount, ...request }) {
  const instance = autocannon({
    connections,
    pipelining: 1,
    timeout: 10,
    ...(amount ? { amount } : { duration }),
    ...request,
  });
  active = instance;
  try {
    return summarize(await instance);
  } finally {
    active = null;
  }
}

function summarize(result) {
  const status = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) status[code] = count;
  const responses = Object.values(status).reduce((a, b) => a + b, 0);
  return {
    // Mean of autocannon's one-second samples; a run bounded by `amount` may
    // end mid-second, so it counts responses over elapsed time instead.
    rps: round(result.samples > 2 ? result.requests.mean : responses / result.duration),
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
