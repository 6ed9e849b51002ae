/**
 * A resource's undecided order items past their deadline ask their order's
 * coordinator what to do, from the resource's alarm, and do as told
 * (presumed abort: an order that could still commit answers "wait"). One that
 * cannot be reached keeps its place and asks again later: correctness over
 * availability (docs/decisions.md #54).
 */
import type { ItemOutcome } from "../domain/order";
import { backoffMs } from "../lib/backoff";
import { logResourceFailure } from "../lib/log";
import type { OrderItemRow } from "./order-items-store";

/** Order items asked about per alarm; the alarm comes back for the rest. */
export const ASKS_PER_ALARM = 20;
/** An item whose coordinator said "wait" or did not answer asks again after about this backoff step (~16-32 s). */
const ASK_RETRY_FAILURES = 6;

export function askAgainInMs(): number {
  return backoffMs(ASK_RETRY_FAILURES);
}

export async function askCoordinators(o: {
  due: OrderItemRow[];
  coordinator: (orderId: string) => { outcome(q: { orderId: string; item: number }): Promise<ItemOutcome> };
  confirm: (row: OrderItemRow) => Promise<unknown>;
  release: (row: OrderItemRow) => Promise<unknown>;
  askAgain: (row: OrderItemRow) => Promise<unknown>;
  resourceId: string | undefined;
}): Promise<void> {
  await Promise.all(
    o.due.map(async (row) => {
      try {
        const outcome = await o.coordinator(row.orderId).outcome({ orderId: row.orderId, item: row.item });
        if (outcome === "confirm") return void (await o.confirm(row));
        if (outcome === "release") return void (await o.release(row));
      } catch (err) {
        logResourceFailure("order coordinator unreachable; the item keeps its place", o.resourceId, err);
      }
      await o.askAgain(row);
    }),
  );
}
