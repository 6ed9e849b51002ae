import type { Context } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "./types";

/** Who asks, through which route, and when the Worker heard it: what every command carries to the object. */
export function callerOf(c: Context<AppEnv>): { requestId: string; actor: string; route: string; receivedAt: number } {
  const route = `${c.req.method} ${routePath(c, -1).replace(/:(\w+)/g, "{$1}")}`;
  return { requestId: c.get("requestId"), actor: c.get("principal"), route, receivedAt: c.get("receivedAt") };
}
