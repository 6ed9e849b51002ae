/**
 * The one table of error codes and their HTTP statuses. Everything that
 * answers a client with an error goes through this table.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  RESOURCE_FULL: 409,
  RESOURCE_CLOSED: 409,
  INVALID_STATE: 409,
  RESOURCE_EXISTS: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  MAINTENANCE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The codes a reservation decision can refuse with (`status: "REJECTED"`). */
export type RefusalCode = "RESOURCE_FULL" | "RESOURCE_CLOSED" | "INVALID_STATE";

/**
 * Generic client-facing messages for refusals. The exact reason ("requested 3,
 * remaining 2") goes only to the operator timeline (docs/api.md; invariant 6
 * in docs/architecture.md).
 */
export const REFUSAL_MESSAGE: Record<RefusalCode, string> = {
  RESOURCE_FULL: "Not enough capacity remains for this request.",
  RESOURCE_CLOSED: "The resource is not accepting reservations.",
  INVALID_STATE: "The request is not allowed in the current state.",
};

export function codeToStatus(code: ErrorCode): number {
  return ERROR_STATUS[code];
}
