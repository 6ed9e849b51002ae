/**
 * A resource as it stood right after any decision: the nearest snapshot at
 * or before it, then the timeline from there, each decision decided again by
 * domain/replay.ts. Snapshots are written by the drain round (alarm.ts), not
 * by commits: a snapshot is a function of the timeline, which never changes,
 * so when it is written does not matter, and the commit path pays nothing.
 */

import {
  BEFORE_CREATION,
  type Disagreement,
  type PastState,
  type RecordedDecision,
  Replay,
  type Step,
} from "../domain/replay";
import type { ReservationAction } from "../domain/reservation";
import type { ResourceSpec, RulesPatch } from "../domain/resource";
import type { PastStore } from "./past-store";
import type { ResourceStore, TimelineEntry } from "./store";

/**
 * A snapshot every this many decisions, or every as many as the last one had
 * holders if that is more: a replay then reads at most that many decisions,
 * and snapshots cost at most one holder written per decision.
 */
export const SNAPSHOT_EVERY = 1000;
/** Snapshots one drain round writes at most (an object from before snapshots catches up over rounds). */
const SNAPSHOTS_PER_ROUND = 5;
/** Timeline entries read at a time while replaying. */
const PAGE = 1000;

/** A replay's answer: the state, and where deciding again disagreed with the record (none, for a sound timeline). */
export interface Replayed {
  state: PastState;
  /** The snapshot it started from (0: the beginning). */
  fromSeq: number;
  disagreements: Disagreement[];
}

export class PastStates {
  /** Decisions between snapshots at least (SNAPSHOT_EVERY); tests make it small to replay through many. */
  snapshotEvery = SNAPSHOT_EVERY;
  /** The latest snapshot's seq and holder count, read once per life of the object. */
  private last: { seq: number; holders: number } | null = null;

  constructor(
    private readonly store: ResourceStore,
    private readonly past: PastStore,
    private readonly resourceId: () => string,
    /** Runs `fn` in a transaction of its own (storage.transactionSync). */
    private readonly transaction: (fn: () => void) => void,
  ) {}

  /** The state right after decision `seq` (which must exist); `fromScratch` ignores snapshots. */
  at(seq: number, { fromScratch = false } = {}): Replayed {
    const start = (fromScratch ? null : this.past.snapshotAtOrBefore(seq)) ?? BEFORE_CREATION;
    const replay = new Replay(start, (id) => this.store.getReservation(id, this.resourceId()));
    for (let after = start.seq; after < seq; ) {
      const entries = this.store.timeline(after, Math.min(PAGE, seq - after));
      if (entries.length === 0) break;
      for (const e of entries) replay.apply(recordedOf(e));
      after = (entries.at(-1) as TimelineEntry).seq;
    }
    return { state: replay.state, fromSeq: start.seq, disagreements: replay.disagreements };
  }

  /**
   * Writes the snapshots that are due by `lastSeq`, a few per call, each in
   * a transaction of its own: a snapshot that cannot be made is logged and
   * skipped (replays only get longer), never holding up the outbox.
   */
  snapshotDue(lastSeq: number): void {
    for (let n = 0; n < SNAPSHOTS_PER_ROUND; n++) {
      try {
        this.last ??= this.past.lastSnapshot();
        const next = this.last.seq + Math.max(this.snapshotEvery, this.last.holders);
        if (next > lastSeq) return;
        const replayed = this.at(next);
        if (replayed.disagreements.length > 0) {
          const first = replayed.disagreements.slice(0, 5);
          const id = this.resourceId();
          console.error(
            JSON.stringify({ level: "error", msg: "replay disagrees with the timeline", resource_id: id, first }),
          );
        }
        this.transaction(() => this.past.writeSnapshot(replayed.state));
        this.last = { seq: next, holders: replayed.state.holders.length };
      } catch (err) {
        this.last = null; // read again from storage next time
        const id = this.resourceId();
        console.warn(JSON.stringify({ level: "warn", msg: "snapshot failed", resource_id: id, error: String(err) }));
        return;
      }
    }
  }
}

/** `r` with only the holders from `offset` on, at most `limit` of them, and how many there are in all. */
export function pageOfHolders(
  r: Replayed,
  offset: number,
  limit: number,
): { replayed: Replayed; holdersTotal: number } {
  const holders = r.state.holders.slice(offset, offset + limit);
  return { replayed: { ...r, state: { ...r.state, holders } }, holdersTotal: r.state.holders.length };
}

/** A timeline entry as the replay reads it. */
export function recordedOf(e: TimelineEntry): RecordedDecision {
  return {
    seq: e.seq,
    at: e.serverTimestamp,
    step: stepOf(e),
    outcome: e.outcome,
    code: e.code,
    reason: e.reason,
    versionAfter: e.versionAfter,
    rulesVersion: e.rulesVersion,
  };
}

/** What the decision asked the rules, from what the object recorded with it (reservation-desk.ts, ledger.ts). */
function stepOf(e: TimelineEntry): Step {
  const d = e.detail;
  const reservationId = typeof d.reservation_id === "string" ? d.reservation_id : null;
  switch (e.type) {
    case "resource.create":
      return { kind: "create", spec: d.spec as ResourceSpec };
    case "reservation.reserve":
      return {
        kind: "reserve",
        quantity: e.quantity ?? 0,
        hold: d.hold === true,
        clientId: e.clientId ?? "",
        reservationId,
      };
    case "reservation.confirm":
    case "reservation.cancel":
    case "reservation.check_in":
    case "reservation.expire":
      return {
        kind: "act",
        action: e.type.slice("reservation.".length) as ReservationAction,
        reservationId: reservationId ?? "",
      };
    case "resource.update": {
      const patch = (d.patch as RulesPatch | undefined) ?? (e.outcome === "ACCEPTED" ? patchOf(d.after) : null);
      return patch ? { kind: "rules", command: { type: "update", patch } } : { kind: "none" };
    }
    case "resource.close":
      return { kind: "rules", command: { type: "close" } };
    case "resource.reopen":
      return { kind: "rules", command: { type: "reopen" } };
    default:
      return { kind: "none" };
  }
}

/**
 * An update recorded before updates kept their patch (schema v6): the rules
 * it left, in the order the update route builds a patch, so the reason names
 * the changed fields in the same order. A refused one changed nothing.
 */
function patchOf(after: unknown): RulesPatch {
  const a = after as Record<string, string | number | boolean | null | Record<string, never>>;
  const time = (v: unknown) => (typeof v === "string" ? Date.parse(v) : null);
  return {
    type: a.type as string,
    capacity: a.capacity as number,
    waitingListEnabled: a.waiting_list_enabled as boolean,
    bookingOpensAt: time(a.booking_opens_at),
    bookingClosesAt: time(a.booking_closes_at),
    maxQuantityPerReservation: a.max_quantity_per_reservation as number | null,
    holdTtlSeconds: a.hold_ttl_seconds as number,
    waitingListOfferTtlSeconds: a.waiting_list_offer_ttl_seconds as number,
    metadata: a.metadata as RulesPatch["metadata"] & object,
  };
}
