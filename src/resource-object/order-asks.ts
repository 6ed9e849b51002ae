/**
 * A resource's undecided order items past their deadline ask their order's
 * coordinator what to do, from the resource's alarm, and do as told
 * (presumed abort: an order that could still commit answers "wait"). One that
 * cannot be reached keeps its place and asks again later: correctness over
 * availability (docs/decisions.md #54).
 */
import { SYSTEM_REQUEST_ID } from "../domain/ids";
import type { ItemOutcome } from "../domain/order";
import { backoffMs } from "../lib/backoff";
import { logResourceFailure } from "../lib/log";
import type { ItemRef, ReleaseForOrder } from "../wire/order-items";
import type { Reply } from "../wire/render";
import type { OrderDesk } from "./order-desk";
import type { Sequenced } from "./store";

/** Order items asked about per alarm; the alarm comes back for the rest. */
const ASKS_PER_ALARM = 20;
/** An item whose coordinator said "wait" or did not answer asks again after about this backoff step (~16-32 s). */
const ASK_RETRY_FAILURES = 6;

export async function askCoordinators(o: {
  orders: OrderDesk;
  now: number;
  coordinator: (orderId: string) => { outcome(q: { orderId: string; item: number }): Promise<ItemOutcome> };
  confirm: (ref: ItemRef) => Promise<unknown>;
  release: (ref: ReleaseForOrder) => Promise<unknown>;
  /** Runs `run` as a command of the resource (it records no decision: it only moves the next question). */
  decide: (run: (current: Sequenced, now: number) => Reply) => Promise<unknown>;
  resourceId: string | undefined;
}): Promise<void> {
  await Promise.all(
    o.orders.dueAsks(o.now, ASKS_PER_ALARM).map(async (row) => {
      const ref = { orderId: row.orderId, item: row.item, requestId: SYSTEM_REQUEST_ID };
      try {
        const outcome = await o.coordinator(row.orderId).outcome({ orderId: row.orderId, item: row.item });
        if (outcome === "confirm") return void (await o.confirm(ref));
        if (outcome === "release") return void (await o.release({ ...ref, cause: "REJECTED" }));
      } catch (err) {
        logResourceFailure("order coordinator unreachable; the item keeps its place", o.resourceId, err);
      }
      await o.decide((_, now) => {
        o.orders.askAgainAt(row, now + backoffMs(ASK_RETRY_FAILURES));
        return { status: 200, headers: {}, body: "" };
      });
    }),
  );
}
