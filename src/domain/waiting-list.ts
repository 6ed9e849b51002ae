/**
 * The waiting list: joining earns no place, only a notification, in strict
 * server order, when capacity frees up.
 */
import { type ResourceState, remaining } from "./resource";

export type WaitingStatus = "WAITING" | "NOTIFIED" | "FULFILLED" | "LEFT";

export interface WaitingEntryRef {
  id: string;
  quantity: number;
}

/** Why a resource refuses to take a join, or null when it takes it. */
export function joinRefusal(s: ResourceState): string | null {
  return s.waitingListEnabled ? null : "waiting list is disabled";
}

/**
 * Places that can be offered to the waiting list now: what remains, minus what
 * earlier notifications already offered and their clients have not booked yet,
 * so three freed places never notify more than three places' worth of entries.
 */
export function placesToOffer(s: ResourceState, offeredNotBooked: number): number {
  return s.state === "OPEN" ? Math.max(0, remaining(s) - offeredNotBooked) : 0;
}

/**
 * Head-first: the entries (in join order) to notify given `places`. Stops at
 * the first entry that does not fit, so nobody is skipped by a smaller one
 * behind them.
 */
export function entriesToNotify(waiting: WaitingEntryRef[], places: number): WaitingEntryRef[] {
  const chosen: WaitingEntryRef[] = [];
  let left = places;
  for (const entry of waiting) {
    if (entry.quantity > left) break;
    chosen.push(entry);
    left -= entry.quantity;
  }
  return chosen;
}
