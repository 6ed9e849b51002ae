import type { DurableObject } from "cloudflare:workers";
import { countUsage } from "../lib/usage";
import type { ResourceObject } from "./resource-object";

type FunctionKeys<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/** The object's own public methods: its RPC surface (not the runtime's handlers, not the test clock). */
type RpcMethod = Exclude<FunctionKeys<ResourceObject>, keyof DurableObject | "clock" | "coordinator">;

/**
 * The object's methods as the Worker sees them: same arguments, results
 * behind a promise. Everything they pass is plain data, which structured
 * clone carries unchanged, so this is exact; it spares the compiler the
 * runtime's deep `Rpc` mapping of recursive JSON types.
 */
export type ResourceRpc = {
  [K in RpcMethod]: ResourceObject[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** The Durable Object that owns a resource: addressed by name, so no lookup is needed. */
export function resourceStub(env: Env, resourceId: string): ResourceRpc {
  countUsage("doRequests"); // counted per stub: callers make one call on each (the import route, one per row)
  const namespace = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return namespace.get(namespace.idFromName(resourceId)) as unknown as ResourceRpc;
}
