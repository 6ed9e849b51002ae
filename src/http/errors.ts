import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { codeToStatus, type ErrorCode } from "../domain/errors";
import { logFailure, logLine } from "../lib/log";
import { isD1Unavailable } from "../storage/d1";
import { type ErrorDetail, errorJson } from "../wire/render";
import type { AppEnv } from "./types";

/** The one error type routes throw; `onError` turns it into the documented body. */
export class AppError extends HTTPException {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(codeToStatus(code) as ContentfulStatusCode, { message });
  }
}

/** How long to wait after D1 failed: an outage lasts longer than an overloaded object. */
const D1_RETRY_AFTER_SECONDS = 5;

/**
 * Durable Object errors that the runtime marks as transient (overloaded,
 * reset, network) and D1 failing (storage/d1.ts) become `503 UNAVAILABLE`
 * with `Retry-After`; callers retry later instead of seeing a 500. Anything
 * else is a bug: a generic 500 that leaks nothing, with the details only in
 * the log.
 */
export function onError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? "unknown";
  if (err instanceof AppError) return errorResponse(c, err);
  // The request validators of @hono/zod-openapi refuse a few bodies before our
  // gates see them (e.g. a JSON content type with odd parameters): same codes.
  if (err instanceof HTTPException && (err.status === 400 || err.status === 415)) {
    const code = err.status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "VALIDATION_ERROR";
    return errorResponse(c, new AppError(code, err.message || "The request is not valid."));
  }
  const flags = err as { retryable?: boolean; overloaded?: boolean };
  const d1Down = isD1Unavailable(err);
  if (d1Down || flags.overloaded || flags.retryable) {
    logFailure("transient failure", err, { request_id: requestId });
    return errorResponse(c, unavailable(d1Down ? D1_RETRY_AFTER_SECONDS : 1));
  }
  logLine("error", "unhandled error", { request_id: requestId, error: String(err), stack: err.stack });
  return errorResponse(c, new AppError("INTERNAL", "An internal error occurred."));
}

export function unavailable(retryAfterSeconds: number): AppError {
  return new AppError("UNAVAILABLE", "The service is temporarily unavailable; retry shortly.", undefined, {
    "Retry-After": String(retryAfterSeconds),
  });
}

export function notFound(c: Context<AppEnv>): Response {
  return errorResponse(c, new AppError("NOT_FOUND", "No such route."));
}

/** Errors are never stored by a cache: a 404 or 503 must not outlive its cause for other callers. */
export function errorResponse(c: Context<AppEnv>, err: AppError): Response {
  const requestId = c.get("requestId") ?? "unknown";
  c.set("outcome", err.code);
  const body = errorJson(err.code, err.message, requestId, err.details);
  return c.json(body, err.status, { ...err.headers, "Cache-Control": "no-store" });
}
