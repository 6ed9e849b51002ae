import { createApp } from "./app";
import { exportHistory } from "./cron/export";
import { reconcile } from "./cron/reconcile";
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
    const run = await reconcile(
      { db: env.DB, object: (id) => resourceStub(env, id), now: Date.now },
      { trigger: "scheduled" },
    );
    const runs = await exportHistory({ db: env.DB, bucket: env.EXPORTS, now: Date.now });
    const rows = runs.reduce((n, r) => n + r.rows, 0);
    console.log(
      JSON.stringify({
        level: "info",
        msg: "scheduled reconciliation and export",
        gaps_repaired: run.gapsRepaired,
        runs: runs.map((r) => r.id),
        rows,
      }),
    );
  },
} satisfies ExportedHandler<Env>;
