import type { Context } from "hono";
import type { AppEnv } from "./types";

/** Who asks and when the Worker heard it: what every command carries to the object. */
export function callerOf(c: Context<AppEnv>): { requestId: string; actor: string; receivedAt: number } {
  return { requestId: c.get("requestId"), actor: c.get("principal"), receivedAt: c.get("receivedAt") };
}
