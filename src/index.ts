import { createApp } from "./app";
import { startScheduledWork } from "./jobs/scheduled";
import { Meter, metered } from "./lib/budget";
import { logLine } from "./lib/log";
import { consumeQueue, queueOf } from "./queues";

export { OrderObject } from "./order-object/order-object";
export { ResourceObject } from "./resource-object/resource-object";

const app = createApp();

/**
 * Every invocation sees its bindings through a meter of its own (lib/budget.ts): each D1 query and
 * subrequest is counted, and one over the per-invocation budget throws before it is made.
 */
export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => app.fetch(request, metered(env, new Meter(null)), ctx),

  /** The history, webhook and jobs queues (and the dead letters), consumed here. */
  queue: (batch, env, _ctx) => {
    const meter = new Meter(`queue ${queueOf(batch.queue)}`);
    return consumeQueue(batch, metered(env, meter), meter);
  },

  /** Hourly (wrangler.toml): starts the reconciliation, export and retention steps; they run on the jobs queue. */
  async scheduled(_controller, env, _ctx) {
    const started = await startScheduledWork(metered(env, new Meter("scheduled")), Date.now());
    logLine("info", "scheduled work started", { ...started });
  },
} satisfies ExportedHandler<Env>;
