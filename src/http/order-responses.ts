/**
 * The response bodies of the order routes (routes/orders.ts), registered with
 * the others by responses.ts; they mirror wire/order.ts.
 */
import { z } from "zod";

const time = z.iso.datetime();
const json = z.record(z.string(), z.unknown());

export const Order = z
  .strictObject({
    id: z.string().describe("ord_ and 22 base64url characters"),
    client_id: z.string(),
    status: z.enum(["PENDING", "HELD", "CONFIRMED", "CANCELLED", "EXPIRED", "REJECTED"]),
    hold: z.boolean(),
    items: z.array(
      z.strictObject({
        resource_id: z.string(),
        quantity: z.int(),
        reservation_id: z.string().nullable(),
        status: z
          .enum(["HELD", "CONFIRMED", "CHECKED_IN", "CANCELLED", "EXPIRED"])
          .nullable()
          .describe("The item's reservation's status; null while none is held (a refused or aborted item)"),
      }),
    ),
    expires_at: time.nullable().describe("A held order's end: the earliest of its items' hold expiries"),
    created_at: time,
    updated_at: time,
    metadata: json,
  })
  .meta({ id: "Order" });

export const OrderStep = z.strictObject({
  seq: z.int(),
  at: time,
  item: z.int().nullable(),
  resource_id: z.string().nullable(),
  action: z.string().describe("create, holding, held, refused, unreachable, confirmed, released, …, tick, asked"),
  ok: z.boolean(),
  server_seq: z.int().nullable().describe("The item's resource decision that answered"),
  code: z.string().nullable(),
  reason: z.string(),
  status: z.string().describe("The order's status after the step"),
});
