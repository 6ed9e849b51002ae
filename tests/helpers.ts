import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../src/index";
import type { ResourceObject } from "../src/resource-object/resource-object";
import { noteUndocumented } from "./support/documented";

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
  const res = await worker.fetch(request, { ...env, ...options.env }, createExecutionContext());
  // Every answer is held to the OpenAPI document (status, headers, body); tests/setup.ts reports any that is not.
  await noteUndocumented(method, path, res);
  return res;
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
 * Runs a resource object's alarm until its outbox has caught up (every
 * decision sent to the history and webhook queues, KV refreshed if the
 * resource is read; KV writes wait out their one-second spacing), then waits
 * until the history queue's consumer has written all of it to D1.
 */
export async function settle(resourceId: string): Promise<void> {
  const stub = env.RESOURCE_OBJECT.get(env.RESOURCE_OBJECT.idFromName(resourceId));
  for (let i = 0; i < 50; i++) {
    await runDurableObjectAlarm(stub);
    const idle = await runInDurableObject(stub, (o) => o.outboxCaughtUp());
    if (idle) return historyWritten(resourceId, await runInDurableObject(stub, (o) => o.sentSeq()));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the outbox of ${resourceId} did not settle`);
}

/** Waits until D1 holds decisions 1..lastSeq of a resource (the history queue delivers them). */
export async function historyWritten(resourceId: string, lastSeq: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ? AND seq <= ?")
      .bind(resourceId, lastSeq)
      .first<{ n: number }>();
    if ((row?.n ?? 0) >= lastSeq) return;
    if (Date.now() > deadline) throw new Error(`history of ${resourceId} did not reach D1 (${row?.n}/${lastSeq})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Received {
  event_id: string;
  signature: string;
  body: string;
  answered: number;
}

/**
 * What the test receiver (tests/support/webhook-receiver.ts) got under
 * `name`, once it has at least `count` deliveries (the webhook queue delivers
 * them shortly after the object queued them).
 */
export async function received(name: string, count = 0, timeoutMs = 20_000): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await (await fetch(`https://hooks.test/__log/${name}`)).json<Received[]>();
    if (got.length >= count) return got;
    if (Date.now() > deadline) throw new Error(`${name} received ${got.length} of ${count} deliveries`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The events `name` received that `wanted` picks, parsed, once there are at
 * least `count` of them (the webhook queue delivers shortly after the object
 * queued them). An attempt cut off by its timeout (a loaded machine) can
 * reach the receiver with a partial body; the queue retries it, so such
 * attempts are left out.
 */
export async function receivedEvents(
  name: string,
  wanted: (event: Record<string, any>) => boolean,
  count: number,
  timeoutMs = 20_000,
): Promise<Record<string, any>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await (await fetch(`https://hooks.test/__log/${name}`)).json<Received[]>();
    const events = got.flatMap((g) => {
      try {
        return [JSON.parse(g.body) as Record<string, any>];
      } catch {
        return [];
      }
    });
    const picked = events.filter(wanted);
    if (picked.length >= count || Date.now() > deadline) return picked;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Durable Object of a resource, for `runInDurableObject` / `runDurableObjectAlarm`. */
export function objectOf(resourceId: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(resourceId));
}

/** Sets a resource object's clock (epoch ms) to `at`: time moves without sleeping. */
export async function setClock(resourceId: string, at: number): Promise<void> {
  await runInDurableObject(objectOf(resourceId), (o) => {
    o.clock = () => at;
  });
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
