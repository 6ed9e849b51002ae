import { config } from "../config";
import { AppError } from "../http/errors";
import { limitReadsPerIp } from "../http/rate-limit";
import { RESPONSE_BODIES as B } from "../http/responses";
import { route, routesApp, valid } from "../http/route-spec";
import { AvailabilityQuery } from "../http/schemas";
import { resourceStub } from "../resource-object/address";
import { readAvailability } from "../storage/availability-cache";

/** Public, optimistic availability: from KV, at most the TTL behind the truth; it never commits anything. */
export const availability = routesApp();
availability.use(limitReadsPerIp);

const get = route("/availability", {
  method: "get",
  path: "/",
  tag: "Availability",
  access: "public",
  summary: "Optimistic availability of one or many resources",
  description:
    "Give exactly one of `resource_id` and `resource_ids` (comma separated, at most 100 ids). It may lag the truth by the cache TTL and never commits anything. Rate limited per client IP.",
  query: AvailabilityQuery,
  ok: {
    200: {
      description: "One snapshot (resource_id), or one per known id (resource_ids; unknown ids are left out).",
      body: B.Availability.or(B.AvailabilityList),
      headers: ["X-Cache-Status", "Cache-Control"],
    },
  },
  errors: ["NOT_FOUND", "RATE_LIMITED", "UNAVAILABLE"],
  errorHeaders: { 404: ["X-Cache-Status"] },
});
availability.openapi(get, async (c) => {
  const query = valid(c, "query", AvailabilityQuery);
  const settings = config(c.env);
  const ttl = settings.AVAILABILITY_TTL_SECONDS;
  const ids = query.resource_ids ?? [query.resource_id as string];
  const found = await readAvailability(c.env.AVAILABILITY, ids, {
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
