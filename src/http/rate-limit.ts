import type { Context, MiddlewareHandler } from "hono";
import { config } from "../config";
import { AppError } from "./errors";
import type { AppEnv } from "./types";

/** The binding's window (wrangler.toml `simple.period`): how long a caller over the limit should wait at most. */
const RETRY_AFTER_SECONDS = "60";

function limited(): AppError {
  return new AppError("RATE_LIMITED", "Too many requests; slow down and retry later.", undefined, {
    "Retry-After": RETRY_AFTER_SECONDS,
  });
}

/**
 * Writes, per API key (after authentication, so the key is known). The
 * bootstrap ADMIN_TOKEN is the operator's own key and is not limited.
 */
export const limitWritesPerKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const write = c.req.method !== "GET" && c.req.method !== "HEAD";
  if (write && c.get("principal") !== "admin" && config(c.env).RATE_LIMITS_ENABLED) {
    const { success } = await c.env.WRITE_LIMITER.limit({ key: `key:${c.get("principal")}` });
    if (!success) throw limited();
  }
  await next();
};

/** The caller's address as Cloudflare saw it. */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "unknown";
}

/** Public reads, per client IP. */
export const limitReadsPerIp: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (config(c.env).RATE_LIMITS_ENABLED) {
    const { success } = await c.env.READ_LIMITER.limit({ key: `ip:${clientIp(c)}` });
    if (!success) throw limited();
  }
  await next();
};

/**
 * Before D1 is asked for a key this isolate does not know, per client IP:
 * a flood of made-up keys costs D1 at most the binding's allowance per
 * minute. A real key is asked for once per key cache period, so it barely counts.
 */
export async function limitKeyLookups(env: Env, clientIp: string): Promise<void> {
  if (!config(env).RATE_LIMITS_ENABLED) return;
  const { success } = await env.AUTH_FAILURE_LIMITER.limit({ key: `ip:${clientIp}` });
  if (!success) throw limited();
}
