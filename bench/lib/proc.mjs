// @ts-check
// Reading the process table from /proc (Linux only, like the rest of the bench).
import { readFileSync } from "node:fs";
import { processes } from "../../scripts/lib/processes.mjs";

/** PIDs of the live workerd processes descending from `root`, and of all the others. */
function workerdSplit(root) {
  const all = processes();
  const parent = new Map(all.map((p) => [p.pid, p.ppid]));
  const descends = (pid) => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  const live = all.filter((p) => p.comm === "workerd" && p.state !== "Z");
  return {
    ours: live.filter((p) => descends(p.pid)).map((p) => p.pid),
    others: live.filter((p) => !descends(p.pid)).map((p) => p.pid),
  };
}

/** PIDs of the live workerd processes descending from `root`. */
export function workerdPids(root) {
  return workerdSplit(root).ours;
}

/** Resident memory of `pids` in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pids) {
  let kib = 0;
  for (const pid of pids) {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB$/m);
    kib += Number(match?.[1] ?? 0);
  }
  return kib / 1024;
}

/**
 * Counts, every 2 s, the live workerd processes that this bench did not
 * start (another session's tests or server): they take CPU from the run.
 */
export function watchNeighbours() {
  const samples = [];
  const sample = () => samples.push(workerdSplit(process.pid).others.length);
  sample();
  const timer = setInterval(sample, 2000);
  return {
    stop() {
      clearInterval(timer);
      return { samples: samples.length, busy: samples.filter((n) => n > 0).length, max: Math.max(...samples) };
    },
  };
}

/** CPU seconds (user + system) used so far by `pids`. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}
