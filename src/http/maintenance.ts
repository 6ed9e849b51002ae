import type { MiddlewareHandler } from "hono";
import { logLine } from "../lib/log";
import { isD1Unavailable } from "../storage/d1";
import { type Maintenance, readMaintenance, SETTINGS_CACHE_MS } from "../storage/settings";
import { AppError } from "./errors";
import type { AppEnv } from "./types";

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** While maintenance is on, every write answers 503 MAINTENANCE (except turning it off); reads go on. */
export const maintenanceGate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (WRITES.has(c.req.method) && c.req.path !== "/admin/maintenance") {
    const state = await readMaintenance(c.env.DB, Date.now()).catch(assumeOffWhileUnknown);
    if (state.enabled) {
      throw new AppError("MAINTENANCE", state.message ?? "The service is in maintenance; retry later.", undefined, {
        "Retry-After": String(Math.ceil(SETTINGS_CACHE_MS / 1000) * 6),
      });
    }
  }
  await next();
};

/**
 * D1 is down and this isolate never read the setting: writes go on, since
 * booking must not depend on D1 (decision 24). An isolate that read it keeps
 * that (settings.ts).
 */
function assumeOffWhileUnknown(err: unknown): Maintenance {
  if (!isD1Unavailable(err)) throw err;
  logLine("warn", "maintenance setting unknown while D1 is down: assumed off");
  return { enabled: false, message: null, updatedAt: null };
}
