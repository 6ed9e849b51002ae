/**
 * JSON representations of the API (docs/api.md). Pure functions with no Hono
 * dependency, because the Durable Object also renders the replies that it
 * stores for idempotent retries in the same transaction as the decision.
 */
import { codeToStatus, type ErrorCode, REFUSAL_MESSAGE, type RefusalCode } from "../domain/errors";
import type { Reservation } from "../domain/reservation";
import { type ResourceState, remaining } from "../domain/resource";
import type { WaitingEntry } from "../domain/waiting-list";

/** A complete HTTP reply: status, extra headers and the exact body (as text). */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ErrorDetail {
  field: string;
  issue: string;
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function resourceJson(s: ResourceState, waitingListLength = 0) {
  return {
    id: s.id,
    type: s.type,
    state: s.state,
    capacity: s.capacity,
    confirmed: s.confirmed,
    held: s.held,
    remaining: remaining(s),
    waiting_list_enabled: s.waitingListEnabled,
    waiting_list_length: waitingListLength,
    booking_opens_at: iso(s.bookingOpensAt),
    booking_closes_at: iso(s.bookingClosesAt),
    max_quantity_per_reservation: s.maxQuantityPerReservation,
    hold_ttl_seconds: s.holdTtlSeconds,
    waiting_list_offer_ttl_seconds: s.waitingListOfferTtlSeconds,
    metadata: s.metadata,
    version: s.version,
    rules_version: s.rulesVersion,
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
  };
}

export function reservationJson(r: Reservation) {
  return {
    id: r.id,
    resource_id: r.resourceId,
    client_id: r.clientId,
    quantity: r.quantity,
    status: r.status,
    server_timestamp: iso(r.serverTimestamp),
    server_seq: r.serverSeq,
    expires_at: iso(r.expiresAt),
    rules_version: r.rulesVersion,
    metadata: r.metadata,
    cancelled_at: iso(r.cancelledAt),
    expired_at: iso(r.expiredAt),
    checked_in_at: iso(r.checkedInAt),
    order_id: r.orderId,
  };
}

export function errorJson(code: ErrorCode, message: string, requestId: string, details?: ErrorDetail[]) {
  return { error: { code, message, ...(details ? { details } : {}), request_id: requestId } };
}

export function errorReply(code: ErrorCode, message: string, requestId: string, details?: ErrorDetail[]): Reply {
  const body = JSON.stringify(errorJson(code, message, requestId, details));
  return { status: codeToStatus(code), headers: {}, body };
}

/** A decision that went against the caller: `409` with `"status": "REJECTED"`. */
export function refusalReply(code: RefusalCode, requestId: string): Reply {
  const body = { ...errorJson(code, REFUSAL_MESSAGE[code], requestId), status: "REJECTED" };
  return { status: codeToStatus(code), headers: {}, body: JSON.stringify(body) };
}

export function waitingEntryJson(e: WaitingEntry) {
  return {
    id: e.id,
    resource_id: e.resourceId,
    client_id: e.clientId,
    quantity: e.quantity,
    status: e.status,
    position: e.position,
    joined_at: iso(e.joinedAt),
    server_seq: e.serverSeq,
    callback_url: e.callbackUrl,
    notified_at: iso(e.notifiedAt),
    offer_expires_at: iso(e.offerExpiresAt),
    left_at: iso(e.leftAt),
    expired_at: iso(e.expiredAt),
  };
}

/** An API key as the API shows it (and the audit log records it): never its secret or hash. */
export function apiKeyJson(k: {
  id: string;
  name: string;
  role: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    created_at: iso(k.createdAt),
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
  };
}
