/**
 * Webhooks: domain events derived from timeline entries, signed with
 * HMAC-SHA256, delivered at least once by the object's alarm. Event ids are
 * stable (`evt_<resource>_<seq>`), so receivers can drop duplicates.
 */
import type { Config } from "../config";
import type { Json } from "../domain/resource";
import { iso } from "../http/render";
import { callbackTargetProblem } from "../lib/callback-target";
import type { TimelineEntry } from "./store";

export interface WebhookEvent {
  id: string;
  type: string;
  resource_id: string;
  server_seq: number;
  occurred_at: string;
  data: Record<string, Json>;
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
  const { before: _b, after, spec: _s, actor: _a, ...rest } = e.detail;
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

/**
 * Why a delivery to `url` may not go out now, or null. Callbacks come from
 * clients and are checked before every attempt, retries included, not only
 * when they were accepted: the policy may have been tightened since
 * (ALLOW_PRIVATE_CALLBACKS turned off). WEBHOOK_URL is the operator's own.
 */
export function deliveryRefusal(url: string, settings: Config): string | null {
  if (url === settings.WEBHOOK_URL) return null;
  const problem = callbackTargetProblem(url, settings.ALLOW_PRIVATE_CALLBACKS);
  return problem && `callback_url refused: ${problem}`;
}

/** `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export async function signature(secret: string, body: string, unixSeconds: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${unixSeconds}.${body}`));
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${unixSeconds},v1=${hex}`;
}

/** One POST; resolves on a 2xx, throws otherwise (status, network error or timeout). */
export async function deliver(
  fetcher: typeof fetch,
  url: string,
  event: WebhookEvent,
  secret: string,
  timeoutMs: number,
): Promise<void> {
  const body = JSON.stringify(event);
  const response = await fetcher(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "User-Agent": "reservation-engine-webhooks/1",
      "X-Event-Id": event.id,
      "X-Event-Type": event.type,
      "X-Signature": await signature(secret, body, Math.floor(Date.now() / 1000)),
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
    // A redirect would re-send the signed body to a target nobody checked (SSRF): it counts as a failure.
    redirect: "manual",
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`receiver answered ${response.status}`);
}

/** A delivery that failed and waits for its next attempt. */
export interface Retry {
  id: number;
  seq: number;
  url: string;
  attempts: number;
  nextAt: number;
  lastError: string;
}

type Row = Record<string, SqlStorageValue>;

/** The `webhook_retries` table. Synchronous: runs inside the caller's transaction. */
export class RetryStore {
  constructor(private readonly sql: SqlStorage) {}

  add(seq: number, url: string, attempts: number, nextAt: number, lastError: string): void {
    this.sql.exec(
      "INSERT INTO webhook_retries (seq, url, attempts, next_at, last_error) VALUES (?, ?, ?, ?, ?)",
      seq,
      url,
      attempts,
      nextAt,
      lastError,
    );
  }

  due(now: number, limit: number): Retry[] {
    return this.sql
      .exec<Row>("SELECT * FROM webhook_retries WHERE next_at <= ? ORDER BY next_at LIMIT ?", now, limit)
      .toArray()
      .map((r) => ({
        id: r.id as number,
        seq: r.seq as number,
        url: r.url as string,
        attempts: r.attempts as number,
        nextAt: r.next_at as number,
        lastError: r.last_error as string,
      }));
  }

  reschedule(id: number, attempts: number, nextAt: number, lastError: string): void {
    this.sql.exec(
      "UPDATE webhook_retries SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
      attempts,
      nextAt,
      lastError,
      id,
    );
  }

  remove(id: number): void {
    this.sql.exec("DELETE FROM webhook_retries WHERE id = ?", id);
  }

  nextAt(): number | null {
    return (this.sql.exec<Row>("SELECT MIN(next_at) AS at FROM webhook_retries").one().at as number | null) ?? null;
  }
}
