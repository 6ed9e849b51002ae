/**
 * Identifiers. A reservation (or waiting-list entry) id carries its resource
 * id, so the Worker routes a request to the owning Durable Object without any
 * lookup (invariant 3), and 128 random bits, so ids cannot be guessed or
 * enumerated.
 *
 *   rsv_<base64url(resource id)>.<base64url(16 random bytes)>   (wle_… for waiting-list entries)
 *
 * The separator is "." because base64url never contains it.
 */

/** Resource ids chosen by operators: ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$. */
/** The request id of the decisions the engine makes itself (hold expiry, offers, notes); never a client's. */
export const SYSTEM_REQUEST_ID = "system";

export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export type IdKind = "rsv_" | "wle_";
const RANDOM_PART = /^[A-Za-z0-9_-]{22}$/;

export function isResourceId(value: string): boolean {
  return RESOURCE_ID_PATTERN.test(value);
}

let lastEncoded = { resourceId: "", encoded: "" };

export function newOwnedId(kind: IdKind, resourceId: string): string {
  // A Durable Object mints ids for one resource only: encode its part once.
  if (lastEncoded.resourceId !== resourceId) {
    lastEncoded = { resourceId, encoded: base64url(new TextEncoder().encode(resourceId)) };
  }
  return `${kind}${lastEncoded.encoded}.${randomToken(16)}`;
}

export function newReservationId(resourceId: string): string {
  return newOwnedId("rsv_", resourceId);
}

/** The resource that owns a reservation id, or null when the id is malformed. */
export function resourceIdOfReservation(reservationId: string): string | null {
  return ownerOf("rsv_", reservationId);
}

/** The resource that owns an id of `kind`, or null when the id is malformed. */
export function ownerOf(kind: IdKind, id: string): string | null {
  if (!id.startsWith(kind) || id.length > 200) return null;
  const [encoded, random, ...rest] = id.slice(kind.length).split(".");
  if (!encoded || !random || rest.length > 0 || !RANDOM_PART.test(random)) return null;
  const resourceId = decodeBase64url(encoded);
  return resourceId !== null && isResourceId(resourceId) ? resourceId : null;
}

export function randomToken(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeBase64url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/** Order ids: `ord_` and 128 bits, random or (under an Idempotency-Key) a digest of the caller's key. */
const ORDER_ID = /^ord_[A-Za-z0-9_-]{22}$/;

export function newOrderId(): string {
  return `ord_${randomToken(16)}`;
}

/** The order id a key always names: its first 16 bytes of digest (hex), base64url. */
export function orderIdOfDigest(hexDigest: string): string {
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(hexDigest.slice(i * 2, i * 2 + 2), 16));
  return `ord_${base64url(bytes)}`;
}

export function isOrderId(value: string): boolean {
  return ORDER_ID.test(value);
}
