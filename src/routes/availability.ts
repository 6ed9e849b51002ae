import { Hono } from "hono";
import { config } from "../config";
import { AppError } from "../http/errors";
import { limitReadsPerIp } from "../http/rate-limit";
import { AvailabilityQuery } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { readQuery } from "../http/validate";
import { resourceStub } from "../resource-object/address";
import { readAvailability } from "../storage/availability-cache";

/** Public, optimistic availability: from KV, at most the TTL behind the truth; it never commits anything. */
export const availability = new Hono<AppEnv>();
availability.use(limitReadsPerIp);

availability.get("/", async (c) => {
  const query = readQuery(c, AvailabilityQuery);
  const settings = config(c.env);
  const ttl = settings.AVAILABILITY_TTL_SECONDS;
  const ids = query.resource_ids ?? [query.resource_id as string];
  const found = await readAvailability(c.env.AVAILABILITY, ids, {
    ttlSeconds: ttl,
    isolateCacheMs: settings.AVAILABILITY_ISOLATE_CACHE_MS,
    kvTimeoutMs: settings.KV_READ_TIMEOUT_MS,
    fresh: (id) => resourceStub(c.env, id).availabilityForCache(id),
  });
  const cacheStatus = { "X-Cache-Status": found.every((f) => f.cache === "HIT") ? "HIT" : "MISS" };
  const headers = { ...cacheStatus, "Cache-Control": `public, max-age=${ttl}` };
  if (query.resource_ids) {
    return c.json({ items: found.flatMap((f) => (f.value ? [f.value] : [])) }, 200, headers);
  }
  const [one] = found;
  // Not publicly cacheable (errorResponse): the resource may be created a moment later.
  if (!one?.value) throw new AppError("NOT_FOUND", "Resource not found.", undefined, cacheStatus);
  return c.json(one.value, 200, headers);
});
