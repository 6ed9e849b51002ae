/**
 * Webhooks: domain events derived from timeline entries. The object queues
 * one job per event and target; the webhook queue's consumer signs and
 * delivers them at least once (queues/webhook-consumer.ts). Event ids are
 * stable (`evt_<resource>_<seq>`), so receivers can drop duplicates.
 */
import type { Json } from "../../domain/json";
import type { TimelineEntry } from "../../domain/timeline";
import { iso } from "../../wire/render";

export interface WebhookEvent {
  id: string;
  type: string;
  /** The resource that decided; null for an order's own events (`order.*`), which name `order_id`. */
  resource_id: string | null;
  order_id?: string;
  server_seq: number;
  occurred_at: string;
  data: Record<string, Json>;
}

/** One delivery to make: an event and where it goes. Plain JSON, so it crosses a queue unchanged. */
export interface WebhookJob {
  url: string;
  event: WebhookEvent;
}

/** Status after a reservation decision → event type. */
const RESERVATION_EVENTS: Record<string, string> = {
  HELD: "reservation.held",
  CONFIRMED: "reservation.confirmed",
  CANCELLED: "reservation.cancelled",
  EXPIRED: "reservation.expired",
  CHECKED_IN: "reservation.checked_in",
};

const RESOURCE_EVENTS: Record<string, string> = {
  "resource.create": "resource.created",
  "resource.update": "resource.updated",
  "resource.close": "resource.closed",
  "resource.reopen": "resource.reopened",
  "waiting_list.join": "waiting_list.joined",
  "waiting_list.leave": "waiting_list.left",
  "waiting_list.notify": "waiting_list.capacity_available",
  "waiting_list.expire": "waiting_list.expired",
};

/** The event a timeline entry announces, or null (repeats that changed nothing, internal notes). */
export function eventOf(e: TimelineEntry, resourceId: string): WebhookEvent | null {
  let type: string | undefined;
  if (e.type === "reservation.reserve" && e.outcome === "REJECTED") type = "reservation.rejected";
  else if (e.outcome === "REJECTED") return null;
  else if (e.type.startsWith("reservation.")) {
    if (e.versionAfter === e.versionBefore) return null; // an allowed repeat: nothing happened
    type = RESERVATION_EVENTS[String(e.detail.status)];
  } else if (e.type.startsWith("resource.") && e.type !== "resource.create" && e.versionAfter === e.versionBefore) {
    return null;
  } else type = RESOURCE_EVENTS[e.type];
  if (!type) return null;
  // The audit trail's parts and the update's patch (as the rules took it) are the operator's, not the event's.
  const { before: _b, after, spec: _s, actor: _a, route: _r, patch: _p, ...rest } = e.detail;
  return {
    id: `evt_${resourceId}_${e.seq}`,
    type,
    resource_id: resourceId,
    server_seq: e.seq,
    occurred_at: iso(e.serverTimestamp) as string,
    data: {
      ...rest,
      ...(after !== undefined ? { resource: after } : {}),
      client_id: e.clientId,
      quantity: e.quantity,
      ...(e.code ? { code: e.code } : {}),
    },
  };
}

/** Where an event goes: the global WEBHOOK_URL (every event) and a waiting entry's own callback. */
export function targetsOf(event: WebhookEvent, entry: TimelineEntry, globalUrl: string | undefined): string[] {
  const targets = globalUrl ? [globalUrl] : [];
  const callback = entry.detail.callback_url;
  if (event.type === "waiting_list.capacity_available" && typeof callback === "string") targets.push(callback);
  return targets;
}
