import type { Context } from "hono";
import { sha256Hex } from "../lib/digest";
import type { CommandReply, Idempotency } from "../resource-object/commands";
import { IdempotencyKey } from "./schemas";
import type { AppEnv } from "./types";
import { parseWith } from "./validate";

/**
 * The `Idempotency-Key` of a request, scoped to the caller and the route, with
 * a fingerprint of the validated body, or undefined when none was sent. The
 * Durable Object stores and checks it in the same transaction as the decision.
 */
export async function idempotencyOf(
  c: Context<AppEnv>,
  route: string,
  body: unknown,
): Promise<Idempotency | undefined> {
  const header = c.req.header("Idempotency-Key");
  if (header === undefined) return undefined;
  const key = parseWith(IdempotencyKey, header, "header.Idempotency-Key");
  const fingerprint = await sha256Hex(`${route}\n${canonicalJson(body)}`);
  return { key: `${c.get("principal")}|${route}|${key}`, fingerprint };
}

/** Sends a reply rendered by the Durable Object, exactly as stored. */
export function sendReply(c: Context<AppEnv>, reply: CommandReply): Response {
  const headers: Record<string, string> = { ...reply.headers, "Content-Type": "application/json" };
  if (reply.replayed) headers["Idempotent-Replayed"] = "true";
  if (reply.status >= 400) {
    c.set("outcome", (JSON.parse(reply.body) as { error: { code: string } }).error.code);
    headers["Cache-Control"] = "no-store"; // as every error (errorResponse)
  }
  return c.body(reply.body, reply.status as 200, headers);
}

/** An id that is a pure function of a key: retries of one create land on one resource. */
export async function uuidFromKey(scopedKey: string): Promise<string> {
  const h = await sha256Hex(`resource-id\n${scopedKey}`);
  const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** JSON with object keys sorted, so equal bodies fingerprint equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
