import type { DurableObject } from "cloudflare:workers";
import { countUsage } from "../lib/usage";
import type { OrderObject } from "./order-object";

type FunctionKeys<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/** The coordinator's own public methods: its RPC surface (not the runtime's handlers, not the test hooks). */
type RpcMethod = Exclude<FunctionKeys<OrderObject>, keyof DurableObject | "clock" | "itemCalls">;

/** The coordinator's methods as the Worker sees them (plain data both ways, as resource-object/address.ts). */
export type OrderRpc = {
  [K in RpcMethod]: OrderObject[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** An order's coordinator: addressed by the order id, so no lookup is needed. */
export function orderStub(env: Env, orderId: string): OrderRpc {
  countUsage("doRequests");
  const namespace = env.ORDER_OBJECT as DurableObjectNamespace<OrderObject>;
  return namespace.get(namespace.idFromName(orderId)) as unknown as OrderRpc;
}
