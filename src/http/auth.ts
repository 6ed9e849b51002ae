import type { MiddlewareHandler } from "hono";
import { config } from "../config";
import { sha256Hex } from "../lib/digest";
import { findKey, parseKey, type Role, touchKey } from "../storage/api-keys";
import { AppError } from "./errors";
import { clientIp, limitKeyLookups, limitWritesPerKey } from "./rate-limit";
import type { AppEnv } from "./types";

/**
 * Requires a bearer key whose role may call the route: the `ADMIN_TOKEN`
 * (bootstrap admin) or an issued key. Secrets are compared as SHA-256
 * digests in constant time, so neither content nor length shows in the
 * response time. `401` for a missing, unknown or revoked key; `403` for a
 * valid key whose role may not call the route. Writes are then rate
 * limited per key.
 */
export function requireRole(...allowed: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const presented = bearerToken(c.req.header("Authorization"));
    if (presented === null) throw unauthenticated("A bearer key is required.");
    const { role, principal } = await authenticate(c.env, presented, {
      clientIp: clientIp(c),
      background: (p) => c.executionCtx.waitUntil(p),
    });
    if (!allowed.includes(role)) throw new AppError("FORBIDDEN", "This key's role may not call this route.");
    c.set("principal", principal);
    await limitWritesPerKey(c, next);
  };
}

/** Admin only (the default for operator routes). */
export const requireAdmin = requireRole("admin");

/**
 * The role and principal of a bearer token. A key this isolate does not know
 * is looked up in D1 only within the per-IP allowance (429 beyond it); while
 * D1 is down, such a key gets 503 rather than 401 (api-keys.ts).
 */
export async function authenticate(
  env: Env,
  presented: string,
  request: { clientIp: string; background: (p: Promise<unknown>) => void },
): Promise<{ role: Role; principal: string }> {
  const digest = await sha256Hex(presented);
  if (timingSafeEqualHex(digest, await adminDigest(config(env).ADMIN_TOKEN))) {
    return { role: "admin", principal: "admin" };
  }
  const parsed = parseKey(presented);
  const now = Date.now();
  const key = parsed ? await findKey(env.DB, parsed.id, now, () => limitKeyLookups(env, request.clientIp)) : null;
  if (!parsed || !key || !timingSafeEqualHex(await sha256Hex(parsed.secret), key.secretHash)) {
    throw unauthenticated("The bearer key is not valid.");
  }
  if (key.revokedAt !== null) throw unauthenticated("The bearer key has been revoked.");
  request.background(touchKey(env.DB, key, now).catch(() => undefined));
  return { role: key.role, principal: key.id };
}

/**
 * The ADMIN_TOKEN's digest, kept per isolate (recomputed only if the secret
 * changes). The string is cached, not the promise: a promise shared between
 * requests would be resolved in another request's context.
 */
let admin: { token: string; digest: string } | null = null;
async function adminDigest(token: string): Promise<string> {
  if (admin?.token !== token) admin = { token, digest: await sha256Hex(token) };
  return admin.digest;
}

function timingSafeEqualHex(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const [x, y] = [enc.encode(a), enc.encode(b)];
  return x.byteLength === y.byteLength && crypto.subtle.timingSafeEqual(x, y);
}

function unauthenticated(message: string): AppError {
  return new AppError("UNAUTHENTICATED", message, undefined, {
    "WWW-Authenticate": 'Bearer realm="reservation-engine"',
  });
}

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110). */
function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^Bearer +([\x21-\x7e]{1,512})$/i);
  return match?.[1] ?? null;
}
