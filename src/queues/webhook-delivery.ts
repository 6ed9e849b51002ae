/**
 * Delivering one webhook: the target checked, the body signed, one POST that
 * never follows a redirect, with a timeout that starts when the request does.
 */

import type { Config } from "../config";
import { callbackTargetProblem } from "../lib/callback-target";
import { hex } from "../lib/digest";
import { countUsage } from "../lib/usage";
import type { WebhookEvent } from "../resource-object/outbox/webhooks";

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
  return `t=${unixSeconds},v1=${hex(mac)}`;
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
  countUsage("fetches");
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
