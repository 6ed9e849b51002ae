import type { MiddlewareHandler } from "hono";
import { SYSTEM_REQUEST_ID } from "../domain/ids";
import type { AppEnv } from "./types";

export const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Reuses a caller's `X-Request-Id` (or `X-Correlation-Id`) when it is safe to
 * echo and log, otherwise makes one; every response carries it.
 */
export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  // Hono may run app-wide middleware twice for a path that is literally "/*";
  // the second run must keep the id the first one chose.
  const incoming = c.req.header("X-Request-Id") ?? c.req.header("X-Correlation-Id");
  const reusable = incoming && ACCEPTED_ID.test(incoming) && incoming !== SYSTEM_REQUEST_ID;
  const id = c.get("requestId") ?? (reusable ? incoming : crypto.randomUUID());
  c.set("requestId", id);
  if (c.get("receivedAt") === undefined) c.set("receivedAt", Date.now());
  await next();
  c.header("X-Request-Id", id);
};
