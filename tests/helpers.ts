import { exports } from "cloudflare:workers";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

/** Sends a request through the Worker's real fetch handler (routing, middleware, Durable Objects). */
export function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; headers?: Record<string, string>; auth?: string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? ADMIN_TOKEN : options.auth;
  if (auth !== null) headers.Authorization = `Bearer ${auth}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  }
  return exports.default.fetch(new Request(`http://engine.test${path}`, { method, headers, body }));
}

let counter = 0;
/** A resource id unique to this test run, so tests never share state. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function createResource(fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await call("POST", "/resources", {
    body: { id: uniqueId("res"), type: "session", capacity: 10, ...fields },
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

export function reserve(
  resourceId: string,
  fields: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return call("POST", "/reservations", {
    body: { resource_id: resourceId, client_id: "client-1", quantity: 1, ...fields },
    headers,
  });
}
