// @ts-check
// explain: the past of a resource with 100,000 decisions, read as of random
// decisions: GET /admin/resources/{id}/state?at_seq=N and
// GET /admin/resources/{id}/explain?seq=N, one request at a time (latency,
// not throughput). Two shapes of history:
// - sold: 1,000 places sold, then 99,000 refusals (1,000 reservations hold
//   places; a snapshot every 1,000 decisions);
// - deep: 100,000 confirmed reservations (a snapshot every as many decisions
//   as the last one had holders: the worst case, 64,000 holders to load).
// Every answer must be a 200 whose replay agreed with the timeline.
import { adminHeaders, createResources, MAX_CAPACITY } from "../lib/api.mjs";
import { reserveOne } from "../lib/bookings.mjs";
import { runLoad, waitForIdle } from "../lib/load.mjs";
import { sleep } from "../lib/util.mjs";

const DECISIONS = 100_000;
const READS = 200;
const SHAPES = [
  { key: "sold", capacity: 1000 },
  { key: "deep", capacity: MAX_CAPACITY },
];

/** The resource's last seq (its creation is seq 1). */
async function lastSeq(server, id) {
  const res = await fetch(`${server.base}/admin/resources/${id}/state?limit=1`, { headers: adminHeaders(server) });
  if (res.status !== 200) throw new Error(`state of ${id} answered ${res.status}`);
  return (await res.json()).at_seq;
}

export const explain = {
  name: "explain",
  async setup({ server, log }) {
    const ids = {};
    for (const { key, capacity } of SHAPES) {
      const [id] = await createResources(server, [`explain-${key}`], capacity);
      for (let round = 0, last = 1; round < 5 && last < DECISIONS; round++) {
        const amount = DECISIONS - last;
        const fill = await runLoad(server, { ...reserveOne(server, id), connections: Math.min(128, amount), amount });
        last = await lastSeq(server, id);
        log(`explain: ${key} holds ${last} decisions (${fill.rps} req/s)`);
      }
      ids[key] = id;
    }
    // The drain writes the snapshots a few per round after the commits; let it finish.
    await waitForIdle(server);
    await sleep(5000);
    return ids;
  },
  async measure({ server }, ids) {
    const rows = [];
    for (const { key } of SHAPES) {
      const id = ids[key];
      const last = await lastSeq(server, id);
      for (const route of ["state", "explain"]) {
        let disagreeing = 0;
        let replayedMax = 0;
        const path = () => {
          const seq = 2 + Math.floor(Math.random() * (last - 1));
          return route === "state"
            ? `/admin/resources/${id}/state?at_seq=${seq}&limit=100`
            : `/admin/resources/${id}/explain?seq=${seq}`;
        };
        const onResponse = (status, body) => {
          if (status !== 200) return;
          const parsed = JSON.parse(body);
          const replay = route === "state" ? parsed.replay : parsed.state_before.replay;
          if (replay.disagreements_total > 0) disagreeing++;
          replayedMax = Math.max(replayedMax, replay.decisions_replayed);
        };
        const summary = await runLoad(server, {
          url: `${server.base}/admin`,
          headers: adminHeaders(server),
          requests: [{ setupRequest: (r) => ({ ...r, method: "GET", path: path() }), onResponse }],
          connections: 1,
          amount: READS,
        });
        const checks = { all_200: summary.status["200"] === READS, replays_agree: disagreeing === 0 };
        const info = { decisions: last, replayed_max: replayedMax };
        rows.push({ key: `explain-${key}-${route}`, connections: 1, summary, checks, info });
      }
    }
    return rows;
  },
};
