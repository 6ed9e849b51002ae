// @ts-check
// memory: workerd's resident memory (VmRSS) sampled every second during a
// 60 s hot run; the average of the last third against the first third shows
// whether memory grows with the number of commits (a leak) or levels off.
import { createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reserveOne } from "../lib/bookings.mjs";
import { runLoad, waitForIdle } from "../lib/load.mjs";
import { rssMiB, workerdPids } from "../lib/proc.mjs";
import { round, sleep } from "../lib/util.mjs";

const MEMORY_DURATION_S = 60;

const average = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

export const memory = {
  name: "memory",
  once: true,
  async measure({ server, connections }) {
    const pids = workerdPids(server.pid);
    if (pids.length === 0) throw new Error(`memory: no workerd process under PID ${server.pid}`);
    const [id] = await createResources(server, ["memory"], MAX_CAPACITY);
    await waitForIdle(server); // so that the first samples are of the load, not of the wait
    const samples = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        samples.push(rssMiB(pids));
        await sleep(1000);
      }
    })();
    const summary = await runLoad(server, { ...reserveOne(server, id), connections, duration: MEMORY_DURATION_S });
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
