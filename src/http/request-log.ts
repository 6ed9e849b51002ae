import type { MiddlewareHandler } from "hono";
import { matchedRoutes, routePath } from "hono/route";
import { meterOf } from "../lib/budget";
import type { AppEnv } from "./types";

/**
 * One JSON line per request: time, level, request id, route, status,
 * duration, key id, resource id and outcome. Never the Authorization header
 * or a body: keys and secrets stay out of the logs.
 */
export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get("logged")) return next(); // see request-id.ts: once per request
  c.set("logged", true);
  const started = Date.now();
  await next();
  // The invocation's budget is counted per route (lib/budget.ts), known now that it has been routed.
  // After `next`, the route index is the handler's that answered (hono/route's matchedRoutes).
  const answered = matchedRoutes(c)[c.req.routeIndex]?.path ?? routePath(c, -1);
  meterOf(c.env)?.rename(`fetch ${c.req.method} ${answered}`);
  const status = c.res.status;
  const line = {
    time: new Date(started).toISOString(),
    level: status >= 500 ? "error" : status >= 400 ? "warn" : "info",
    request_id: c.get("requestId"),
    method: c.req.method,
    route: c.req.routePath,
    status,
    duration_ms: Date.now() - started,
    key_id: c.get("principal") ?? null,
    resource_id: c.req.param("id") ?? c.req.query("resource_id") ?? null,
    outcome: c.get("outcome") ?? (status < 400 ? "ok" : "error"),
  };
  console.log(JSON.stringify(line));
};
