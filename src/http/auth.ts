import type { MiddlewareHandler } from "hono";
import { config } from "../config";
import { AppError } from "./errors";
import type { AppEnv } from "./types";

/**
 * Requires the `ADMIN_TOKEN` bearer key. Both sides are hashed before a
 * constant-time comparison, so neither the key's content nor its length
 * shows in the response time.
 */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const presented = bearerToken(c.req.header("Authorization"));
  if (presented === null) throw unauthenticated("A bearer key is required.");
  if (!(await sameSecret(presented, config(c.env).ADMIN_TOKEN))) throw unauthenticated("The bearer key is not valid.");
  c.set("principal", "admin");
  await next();
};

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

async function sameSecret(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([sha256(a), sha256(b)]);
  return crypto.subtle.timingSafeEqual(da, db);
}

export async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
