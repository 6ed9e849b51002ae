// @ts-check
// history: during a sustained hot run, how long a commit takes to reach the
// D1 history (the object's outbox, drained by its alarm). Every 10th 201 is
// sampled; its decision is looked up in D1 every 50 ms through the server's
// own Miniflare instance. The lag is `drained_at - server_timestamp` of that
// row, both on the server's clock: the poll only finds the rows, so its own
// queueing behind the load does not count. `seen_lag` (when this client first
// saw the row, minus server_timestamp) is reported too, for comparison.
// Needs serve mode (wrangler dev gives no handle on its D1).
import { createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reserveOne } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";
import { quantile, sleep } from "../lib/util.mjs";

const SAMPLE_EVERY = 10;
const POLL_MS = 50;
const D1_MAX_PARAMS = 100; // D1 binds at most 100 parameters per statement
const GIVE_UP_MS = 30_000;
const FIELDS = /"id":"(rsv_[^"]+)".*"server_timestamp":"([^"]+)"/;

export const history = {
  name: "history",
  modes: ["serve"],
  async measure({ server, connections, duration, run }) {
    const [id] = await createResources(server, [`history-${run}`], MAX_CAPACITY);
    const pending = new Map(); // reservation id -> server_timestamp (epoch ms)
    const lags = [];
    const seenLags = [];
    let created = 0;
    let failedPolls = 0;
    const onResponse = (status, body) => {
      if (status !== 201 || ++created % SAMPLE_EVERY !== 0) return;
      const [, rid, at] = body.match(FIELDS);
      pending.set(rid, Date.parse(at));
    };

    let loading = true;
    const poller = (async () => {
      let lastSeen = Date.now();
      while (loading || (pending.size > 0 && Date.now() - lastSeen < GIVE_UP_MS)) {
        await sleep(POLL_MS);
        const batch = [...pending.keys()].slice(0, D1_MAX_PARAMS);
        if (batch.length === 0) continue;
        let rows;
        try {
          rows = await server.d1(
            `SELECT reservation_id AS id, drained_at - server_timestamp AS lag FROM decision_events
             WHERE type = 'reservation.reserve' AND reservation_id IN (${batch.map(() => "?").join(",")})`,
            batch,
          );
        } catch {
          failedPolls++; // try again at the next poll
          continue;
        }
        const now = Date.now();
        for (const { id: rid, lag } of rows) {
          lags.push(lag);
          seenLags.push(now - pending.get(rid));
          pending.delete(rid);
          lastSeen = now;
        }
      }
    })();
    const summary = await runLoad(server, { ...reserveOne(server, id, onResponse), connections, duration });
    loading = false;
    await poller;

    const after = await settledTotals(server, [id]);
    const { checks, info } = bookingChecks(summary, { confirmed: 0 }, after);
    checks.all_samples_in_history = pending.size === 0 && lags.length > 0;
    const lag = {
      samples: lags.length,
      never_seen: pending.size,
      failed_polls: failedPolls,
      lag_p50_ms: quantile(lags, 0.5),
      lag_p99_ms: quantile(lags, 0.99),
      lag_max_ms: quantile(lags, 1),
      seen_lag_p50_ms: quantile(seenLags, 0.5),
      seen_lag_p99_ms: quantile(seenLags, 0.99),
    };
    return [{ key: "history", connections, summary, checks, info: { ...info, ...lag } }];
  },
};
