import { z } from "zod";
import { rawEnv } from "./lib/budget";

/**
 * Settings read from the environment, validated once per isolate. A bad value
 * fails every request with a log line naming the variable, instead of
 * running with a guess.
 */
const ConfigSchema = z.object({
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters"),
  AVAILABILITY_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(60),
  /** How long a Worker isolate reuses what KV answered for an id before asking KV again; 0: every read asks KV. */
  AVAILABILITY_ISOLATE_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  /** How long a hold lasts when a resource is created without `hold_ttl_seconds`. */
  DEFAULT_HOLD_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  /** A KV availability read slower than this is treated as a miss and answered by the object. */
  KV_READ_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
  /** Receives every domain event (optional). */
  WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Signs webhook bodies (HMAC-SHA256); required for any delivery. */
  WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  /**
   * Development only: lets waiting-list callback_url point at http and at
   * loopback/private hosts (a receiver on your machine). Never in production.
   */
  ALLOW_PRIVATE_CALLBACKS: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(5000),
  /**
   * Decisions older than this many days, once exported to R2, are removed from D1 by the scheduled
   * job (cron/retention.ts). Unset: D1 keeps everything.
   */
  HISTORY_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).optional(),
  /** Rate limits (the WRITE_LIMITER / READ_LIMITER bindings); "false" turns them off, e.g. for benchmarks. */
  RATE_LIMITS_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** Origins allowed to read the public routes from a browser: "*" or a comma-separated list. */
  CORS_ORIGINS: z
    .string()
    .default("*")
    .transform((v) =>
      v
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  /** Serves GET /__bench/noop-rpc, the platform floor for benchmarks. Off unless set to "true". */
  BENCH_ROUTES: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<object, Config>();

export function config(env: Env): Config {
  // Each invocation sees its bindings through its own meter (lib/budget.ts): the settings are the same.
  const key = rawEnv(env);
  let parsed = cache.get(key);
  if (!parsed) {
    const result = ConfigSchema.safeParse(env);
    if (!result.success) {
      const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      throw new Error(`invalid configuration: ${problems}`);
    }
    parsed = result.data;
    cache.set(key, parsed);
  }
  return parsed;
}
