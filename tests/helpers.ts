import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../src/index";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

/**
 * Sends a request to the Worker's real fetch handler (routing, middleware,
 * real local Durable Objects, KV, D1) inside workerd. It calls the handler
 * directly rather than through `exports.default.fetch`, whose dispatch in the
 * test pool slows down with every request a file makes (workers-sdk #15446);
 * see docs/decisions.md.
 */
export async function call(
  method: string,
  path: string,
  options: {
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    auth?: string | null;
    /** Bindings to use instead of the real ones (e.g. a wrapped D1 that fails). */
    env?: Partial<Env>;
  } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? ADMIN_TOKEN : options.auth;
  if (auth !== null) headers.Authorization = `Bearer ${auth}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  }
  const request = new Request(`http://engine.test${path}`, { method, headers, body });
  return worker.fetch(request, { ...env, ...options.env }, createExecutionContext());
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

/**
 * Runs a resource object's alarm until its outbox has caught up: D1 holds its
 * history, KV its latest snapshot and every event went to its webhooks once
 * (KV writes wait out their one-second spacing, so this may take a second).
 * Webhook retries that are not due yet may remain.
 */
export async function settle(resourceId: string): Promise<void> {
  const stub = env.RESOURCE_OBJECT.get(env.RESOURCE_OBJECT.idFromName(resourceId));
  for (let i = 0; i < 50; i++) {
    await runDurableObjectAlarm(stub);
    const idle = await runInDurableObject(stub, (o) => o.outboxCaughtUp());
    if (idle) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the outbox of ${resourceId} did not settle`);
}

/**
 * The real D1 binding, wrapped: while `fault.down` is set, every call
 * (prepare, batch, exec, …) throws as an unreachable D1 does.
 */
export function downD1(real: D1Database, fault: { down: boolean } = { down: true }): D1Database {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (fault.down) throw new Error("D1_ERROR: Network connection lost. (injected)");
        return value.apply(target, args);
      };
    },
  });
}
