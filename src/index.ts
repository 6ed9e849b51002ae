import { createApp } from "./app";
import { exportHistory } from "./cron/export";
import { reconcile } from "./cron/reconcile";
import { logFailure, logLine } from "./lib/log";
import { consumeQueue } from "./queues";
import { resourceStub } from "./resource-object/address";

export { ResourceObject } from "./resource-object/resource-object";

const app = createApp();

export default {
  fetch: app.fetch,

  /** The history and webhook queues (and their dead letters), consumed here. */
  queue: (batch, env, _ctx) => consumeQueue(batch, env),

  /** Hourly (wrangler.toml): repair gaps in the history, then export what is new to R2. */
  async scheduled(_controller, env, _ctx) {
    // A failed reconciliation (recorded in its run) must not hold up the export of what D1 has.
    const run = await reconcile(
      { db: env.DB, object: (id) => resourceStub(env, id), now: Date.now },
      { trigger: "scheduled" },
    ).catch((err) => {
      logFailure("scheduled reconciliation failed; exporting anyway", err);
      return null;
    });
    const runs = await exportHistory({ db: env.DB, bucket: env.EXPORTS, now: Date.now });
    logLine("info", "scheduled reconciliation and export", {
      gaps_repaired: run?.gapsRepaired ?? null,
      runs: runs.map((r) => r.id),
      rows: runs.reduce((n, r) => n + r.rows, 0),
    });
  },
} satisfies ExportedHandler<Env>;
