// @ts-check
// The process table from /proc (Linux only) and waiting for a server's /health:
// shared by the benchmarks (bench/), the crash runs (scripts/chaos/) and the browser check.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Every process as { pid, comm, state, ppid, pgid }. */
export function processes() {
  const list = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const [state, ppid, pgid] = stat.slice(close + 2).split(" ");
      list.push({
        pid: Number(entry),
        comm: stat.slice(stat.indexOf("(") + 1, close),
        state,
        ppid: +ppid,
        pgid: +pgid,
      });
    } catch {
      // the process ended while we looked
    }
  }
  return list;
}

/** Live (not zombie) members of process group `pgid`: a zombie is dead, only not yet reaped. */
export function liveGroupMembers(pgid) {
  return processes().filter((p) => p.pgid === pgid && p.state !== "Z");
}

/**
 * Resolves once `GET <base>/health` answers 200; throws if `exited()` turns
 * true first or `timeoutMs` passes. `what` names the server in errors.
 */
export async function waitForHealth({ base, exited, what, timeoutMs = 90_000, intervalMs = 250 }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`${what} exited before answering /health`);
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: GET /health did not answer 200 within ${timeoutMs / 1000} s`);
}
