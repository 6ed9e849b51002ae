import type { MiddlewareHandler } from "hono";
import { readMaintenance, SETTINGS_CACHE_MS } from "../storage/settings";
import { AppError } from "./errors";
import type { AppEnv } from "./types";

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** While maintenance is on, every write answers 503 MAINTENANCE (except turning it off); reads go on. */
export const maintenanceGate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (WRITES.has(c.req.method) && c.req.path !== "/admin/maintenance") {
    const state = await readMaintenance(c.env.DB, Date.now());
    if (state.enabled) {
      throw new AppError("MAINTENANCE", state.message ?? "The service is in maintenance; retry later.", undefined, {
        "Retry-After": String(Math.ceil(SETTINGS_CACHE_MS / 1000) * 6),
      });
    }
  }
  await next();
};
