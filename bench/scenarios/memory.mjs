// memory: workerd's resident memory (VmRSS) sampled every second during a
// 60 s hot run; the average of the last third against the first third shows
// whether memory grows with the number of commits (a leak) or levels off.
import { readdirSync, readFileSync } from "node:fs";
import { createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reserveOne } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";
import { round, sleep } from "../lib/util.mjs";

export const MEMORY_DURATION_S = 60;

/** PIDs of the workerd processes started by process `root` (its descendants, read from /proc). */
export function workerdPids(root) {
  const parent = new Map();
  const name = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      parent.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
      name.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
    } catch {
      // the process ended while we looked
    }
  }
  const descends = (pid) => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  return [...name].filter(([pid, comm]) => comm === "workerd" && descends(pid)).map(([pid]) => pid);
}

function rssMiB(pids) {
  let kib = 0;
  for (const pid of pids) {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB$/m);
    kib += Number(match?.[1] ?? 0);
  }
  return kib / 1024;
}

const average = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

export const memory = {
  name: "memory",
  once: true,
  async measure({ server, connections }) {
    const pids = workerdPids(server.pid);
    if (pids.length === 0) throw new Error(`memory: no workerd process under PID ${server.pid}`);
    const [id] = await createResources(server, ["memory"], MAX_CAPACITY);
    const samples = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        samples.push(rssMiB(pids));
        await sleep(1000);
      }
    })();
    const summary = await runLoad({ ...reserveOne(server, id), connections, duration: MEMORY_DURATION_S });
    loading = false;
    await sampler;

    const after = await settledTotals(server, [id]);
    const { checks, info } = bookingChecks(summary, { confirmed: 0 }, after);
    const third = Math.floor(samples.length / 3);
    const first = average(samples.slice(0, third));
    const last = average(samples.slice(-third));
    const rss = {
      workerd_pids: pids,
      rss_first_third_mib: round(first),
      rss_last_third_mib: round(last),
      rss_max_mib: round(Math.max(...samples)),
      rss_drift_pct: round((100 * (last - first)) / first),
    };
    return [{ key: "memory", connections, summary, checks, info: { ...info, ...rss } }];
  },
};
