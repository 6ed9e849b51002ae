/**
 * One JSON line per event, the shape Workers Logs and `wrangler tail` index:
 * `level`, `msg`, then the fields. Work that fails and is retried or skipped
 * logs a warning with the error (`logFailure`).
 */
export function logLine(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "info") console.log(line);
  else console[level](line);
}

/** A warning about work that failed and is retried (or skipped), with the error that caused it. */
export function logFailure(msg: string, err: unknown, fields: Record<string, unknown> = {}): void {
  logLine("warn", msg, { ...fields, error: String(err) });
}

/** A warning about a resource's background work (it is retried, so not an error), with the error that caused it. */
export function logResourceFailure(
  msg: string,
  resourceId: string | undefined,
  err: unknown,
  extra: Record<string, unknown> = {},
): void {
  logFailure(msg, err, { resource_id: resourceId, ...extra });
}
