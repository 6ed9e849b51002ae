/**
 * The waiting list: joining earns no place, only a notification (an offer),
 * in strict server order, when capacity frees up. Offers count only while
 * their places exist and lapse after the resource's offer TTL, so the line
 * never stalls while places are free and an entry that fits is waiting.
 */
import { type ResourceState, remaining } from "./resource";

export type WaitingStatus = "WAITING" | "NOTIFIED" | "FULFILLED" | "LEFT" | "EXPIRED";

/** A waiting-list entry as stored and shown. */
export interface WaitingEntry {
  id: string;
  resourceId: string;
  clientId: string;
  quantity: number;
  status: WaitingStatus;
  serverSeq: number;
  joinedAt: number;
  callbackUrl: string | null;
  notifiedAt: number | null;
  /** While NOTIFIED: when the offer lapses. */
  offerExpiresAt: number | null;
  /** While NOTIFIED: how many of its places still count as offered. */
  offered: number;
  leftAt: number | null;
  expiredAt: number | null;
  /** 1 = next; null once the entry no longer waits. */
  position: number | null;
}

/** `waiting_list_offer_ttl_seconds` when a resource is created without it. */
export const DEFAULT_OFFER_TTL_SECONDS = 900;

export interface WaitingEntryRef {
  id: string;
  quantity: number;
}

/**
 * A notified entry's offer. `counted` is how many of its places still count
 * as offered: bookings by others can take them, and then they stop counting.
 */
export interface Offer extends WaitingEntryRef {
  counted: number;
  /** When the offer lapses (epoch ms), exactly, like a hold's `expires_at`. */
  lapsesAt: number;
}

/** Why a resource refuses a join: a refusal (409) or a quantity it could never book (400); null when it takes it. */
export function joinRefusal(
  s: ResourceState,
  quantity: number,
): { code: "INVALID_STATE"; reason: string } | { code: "VALIDATION_ERROR"; reason: string } | null {
  if (!s.waitingListEnabled) return { code: "INVALID_STATE", reason: "waiting list is disabled" };
  if (!canEverBook(s, quantity)) return { code: "VALIDATION_ERROR", reason: cannotBookReason(s, quantity) };
  return null;
}

/**
 * Whether the rules in force let one reservation of `quantity` succeed at all.
 * An entry that cannot would block everyone behind it forever.
 */
export function canEverBook(s: ResourceState, quantity: number): boolean {
  return quantity <= s.capacity && (s.maxQuantityPerReservation === null || quantity <= s.maxQuantityPerReservation);
}

function cannotBookReason(s: ResourceState, quantity: number): string {
  return quantity > s.capacity
    ? `quantity ${quantity} exceeds capacity ${s.capacity}`
    : `quantity ${quantity} exceeds max_quantity_per_reservation ${s.maxQuantityPerReservation}`;
}

/**
 * Places that can be offered now: what remains, minus the places live offers
 * still count, so three freed places never notify more than three places' worth.
 */
export function placesToOffer(s: ResourceState, offered: number): number {
  return s.state === "OPEN" ? Math.max(0, remaining(s) - offered) : 0;
}

/**
 * Head-first: the entries (in join order) to notify given `places`. Stops at
 * the first entry that does not fit, so nobody is skipped by a smaller one
 * behind them.
 */
export function entriesToNotify<E extends WaitingEntryRef>(waiting: E[], places: number): E[] {
  const chosen: E[] = [];
  let left = places;
  for (const entry of waiting) {
    if (entry.quantity > left) break;
    chosen.push(entry);
    left -= entry.quantity;
  }
  return chosen;
}

/** When an offer made at `now` lapses. */
export function offerLapsesAt(s: ResourceState, now: number): number {
  return now + s.waitingListOfferTtlSeconds * 1000;
}

/**
 * Whether an entry joining now is notified in the same step: nobody waits
 * ahead of it (on a settled line, a waiting head means the head does not fit)
 * and its quantity fits the places free and not offered. `settleLine`, run
 * right after the join, decides exactly this; the join's reply shows it.
 */
export function notifiedOnJoin(s: ResourceState, offered: number, waitingAhead: number, quantity: number): boolean {
  return waitingAhead === 0 && quantity <= placesToOffer(s, offered);
}

/**
 * The line as the rules see it. The Durable Object answers from SQLite (and
 * records a decision for every entry that changes status), tests answer from
 * memory. Each change is applied when it is made, so every later read sees it.
 */
export interface Line<E extends WaitingEntryRef = WaitingEntryRef> {
  /** Entries waiting, not notified yet. */
  readonly waiting: number;
  /** Entries notified whose offer is live. */
  readonly notified: number;
  /** Places that live offers still count. */
  readonly offered: number;
  /** Live offers with `lapsesAt <= now`, at most `limit`. */
  lapsedOffers(now: number, limit: number): Offer[];
  /** Waiting or notified entries with a quantity above `max`, at most `limit`. */
  entriesAbove(max: number, limit: number): WaitingEntryRef[];
  /** Live offers that still count places, oldest first, at most `limit`. */
  countedOffers(limit: number): Offer[];
  /** Waiting entries, head first, at most `limit`. */
  head(limit: number): E[];
  /** The entry becomes EXPIRED: it stops waiting, and its offer (if any) stops counting. */
  expire(entry: WaitingEntryRef, cause: "offer_lapsed" | "cannot_book", reason: string): void;
  /** Fewer of the offer's places count as offered. */
  uncount(offer: Offer, counted: number): void;
  /** The entry is notified: it is offered its quantity of places until `lapsesAt`. */
  notify(entry: E, lapsesAt: number, reason: string): void;
}

/** Rows read per query; a step reads batch after batch until it is done. */
const BATCH = 500;

/** Offers lapse exactly at their time: each entry becomes EXPIRED (it may join again). */
export function lapseOffers<E extends WaitingEntryRef>(line: Line<E>, now: number): void {
  for (let due = line.lapsedOffers(now, BATCH); due.length > 0; due = line.lapsedOffers(now, BATCH)) {
    for (const offer of due)
      line.expire(offer, "offer_lapsed", `offer lapsed at ${new Date(offer.lapsesAt).toISOString()}`);
  }
}

/**
 * Brings the line up to date with the resource at `now`, in this order:
 * 1. offers due by `now` lapse;
 * 2. after a rule change, entries that could never book expire;
 * 3. offers count only while their places exist: when offers count more
 *    places than remain, the oldest offers stop counting the difference
 *    (their clients may still book; the places are simply no longer theirs
 *    to wait for), so offered places never exceed what remains;
 * 4. entries are notified head-first while the head fits the places free
 *    and not offered.
 * Afterwards the line cannot stall: either nobody waits, or the resource is
 * closed, or the head entry's quantity is above the places free and not offered.
 */
export function settleLine<E extends WaitingEntryRef>(
  line: Line<E>,
  s: ResourceState,
  now: number,
  rulesChanged: boolean,
): void {
  lapseOffers(line, now);
  if (rulesChanged && line.waiting + line.notified > 0) {
    const max = Math.min(s.capacity, s.maxQuantityPerReservation ?? Number.POSITIVE_INFINITY);
    for (let stranded = line.entriesAbove(max, BATCH); stranded.length > 0; stranded = line.entriesAbove(max, BATCH)) {
      for (const entry of stranded) line.expire(entry, "cannot_book", cannotBookReason(s, entry.quantity));
    }
  }
  let excess = line.offered - remaining(s);
  while (excess > 0) {
    const offers = line.countedOffers(BATCH);
    if (offers.length === 0) break;
    for (const offer of offers) {
      const counted = Math.max(0, offer.counted - excess);
      excess -= offer.counted - counted;
      line.uncount(offer, counted);
      if (excess === 0) break;
    }
  }
  for (;;) {
    const places = placesToOffer(s, line.offered);
    if (places === 0 || line.waiting === 0) return;
    const head = line.head(Math.min(places, BATCH));
    const chosen = entriesToNotify(head, places);
    for (const entry of chosen) line.notify(entry, offerLapsesAt(s, now), `offered ${entry.quantity} of ${places}`);
    if (chosen.length === 0 || chosen.length < head.length) return;
  }
}
