import type { DurableObject } from "cloudflare:workers";
import { countUsage } from "../lib/usage";
import type { OrderObject } from "./order-object";

type FunctionKeys<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/** The shard's own public methods: its RPC surface (not the runtime's handlers, not the test hooks). */
type RpcMethod = Exclude<FunctionKeys<OrderObject>, keyof DurableObject | "clock" | "itemCalls">;

/** The shard's methods as the Worker sees them (plain data both ways, as resource-object/address.ts). */
export type OrderRpc = {
  [K in RpcMethod]: OrderObject[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * The shard that coordinates an order: the first character of its id's
 * random part, so 64 shards, fixed forever (an order never moves), and
 * spread evenly (the part is random, or a digest under an Idempotency-Key).
 */
export function orderShard(orderId: string): string {
  return `orders-${Math.max(0, BASE64URL.indexOf(orderId.charAt(4)))}`;
}

/** An order's coordinator: the shard its id names, so no lookup is needed. */
export function orderStub(env: Env, orderId: string): OrderRpc {
  countUsage("doRequests");
  const namespace = env.ORDER_OBJECT as DurableObjectNamespace<OrderObject>;
  return namespace.get(namespace.idFromName(orderShard(orderId))) as unknown as OrderRpc;
}
