import { createApp } from "./app";
import { exportHistory } from "./cron/export";

export { ResourceObject } from "./resource-object/resource-object";

const app = createApp();

export default {
  fetch: app.fetch,

  /** Hourly (wrangler.toml): export the history recorded since the last run to R2. */
  async scheduled(_controller, env, _ctx) {
    const runs = await exportHistory({ db: env.DB, bucket: env.EXPORTS, now: Date.now });
    const rows = runs.reduce((n, r) => n + r.rows, 0);
    console.log(JSON.stringify({ level: "info", msg: "scheduled export", runs: runs.map((r) => r.id), rows }));
  },
} satisfies ExportedHandler<Env>;
