/**
 * A resource as it stood right after any decision: the nearest snapshot at
 * or before it, then the timeline from there, each decision decided again by
 * domain/replay.ts. Snapshots are written after drain rounds (background.ts), not
 * by commits: a snapshot is a function of the timeline, which never changes,
 * so when it is written does not matter. A replay runs on the object's one
 * thread, so it yields between pages: commits go on meanwhile, and nothing
 * it reads can change under it (the timeline only grows, snapshots are never
 * rewritten, and a reservation that stopped holding places never moves again).
 */

import type { Json } from "../domain/json";
import { BEFORE_CREATION, type RecordedDecision, Replay, type Replayed, type Step } from "../domain/replay";
import type { ReservationAction } from "../domain/reservation";
import type { ResourceSpec, RulesPatch } from "../domain/resource";
import type { TimelineEntry } from "../domain/timeline";
import { DEFAULT_OFFER_TTL_SECONDS } from "../domain/waiting-list";
import { logFailure, logLine } from "../lib/log";
import type { PastStore } from "./past-store";
import type { ResourceStore } from "./store";

/**
 * A snapshot every this many decisions, or every as many as the last one had
 * holders if that is more: a replay then reads at most that many decisions,
 * and snapshots cost at most one holder written per decision.
 */
const SNAPSHOT_EVERY = 1000;
/** Snapshots one drain round writes at most (an object from before snapshots catches up over rounds). */
const SNAPSHOTS_PER_ROUND = 5;
/** Timeline entries replayed between two yields to the object's other work. */
const PAGE = 1000;

export class PastStates {
  /** Decisions between snapshots at least (SNAPSHOT_EVERY); tests make it small to replay through many. */
  snapshotEvery = SNAPSHOT_EVERY;
  /** Snapshots being written (`startSnapshots`), or null. */
  private writing: Promise<void> | null = null;
  /** The latest snapshot's seq and holder count (or where snapshots stopped), read once per life of the object. */
  private last: { seq: number; holders: number } | null = null;

  constructor(
    private readonly store: ResourceStore,
    private readonly past: PastStore,
    private readonly resourceId: () => string,
    /** Runs `fn` in a transaction of its own (storage.transactionSync). */
    private readonly transaction: (fn: () => void) => void,
  ) {}

  /** The state right after decision `seq` (which must exist); `fromScratch` ignores snapshots. */
  async at(seq: number, { fromScratch = false } = {}): Promise<Replayed> {
    const start = (fromScratch ? null : this.past.snapshotAtOrBefore(seq)) ?? BEFORE_CREATION;
    const replay = new Replay(start, (id) => this.store.getReservation(id, this.resourceId()));
    for (let after = start.seq; after < seq; ) {
      if (after > start.seq) await new Promise((resolve) => setTimeout(resolve, 0));
      const entries = this.store.timeline(after, Math.min(PAGE, seq - after));
      if (entries.length === 0) break;
      for (const e of entries) replay.apply(recordedOf(e));
      after = (entries.at(-1) as TimelineEntry).seq;
    }
    return { state: replay.state, fromSeq: start.seq, disagreements: replay.disagreements };
  }

  /** Writes the snapshots due by `lastSeq` in the background, unless that is under way already. */
  startSnapshots(lastSeq: number): void {
    this.writing ??= this.snapshotDue(lastSeq).finally(() => {
      this.writing = null;
    });
  }

  /**
   * Writes the snapshots that are due by `lastSeq`, a few per call, each in
   * a transaction of its own: a snapshot that cannot be made is logged and
   * skipped (replays only get longer), never holding up the outbox. A replay
   * that disagrees with the timeline is logged and not saved, so every later
   * replay goes through that stretch again and reports it.
   */
  async snapshotDue(lastSeq: number): Promise<void> {
    for (let n = 0; n < SNAPSHOTS_PER_ROUND; n++) {
      try {
        this.last ??= this.past.lastSnapshot();
        const next = this.last.seq + Math.max(this.snapshotEvery, this.last.holders);
        if (next > lastSeq) return;
        const replayed = await this.at(next);
        const holders = replayed.state.holders.length;
        if (replayed.disagreements.length > 0) {
          logLine("error", "replay disagrees with the timeline; no snapshot", {
            resource_id: this.resourceId(),
            first: replayed.disagreements.slice(0, 5),
          });
        } else this.transaction(() => this.past.writeSnapshot(replayed.state));
        this.last = { seq: next, holders };
      } catch (err) {
        this.last = null; // read again from storage next time
        logFailure("snapshot failed", err, { resource_id: this.resourceId() });
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
function recordedOf(e: TimelineEntry): RecordedDecision {
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
    case "resource.create": {
      // Resources created before schema v4 had no offer TTL; the migration gave them the default.
      const spec = d.spec as Partial<ResourceSpec>;
      const waitingListOfferTtlSeconds = spec.waitingListOfferTtlSeconds ?? DEFAULT_OFFER_TTL_SECONDS;
      return { kind: "create", spec: { ...spec, waitingListOfferTtlSeconds } as ResourceSpec };
    }
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
    case "reservation.order_confirm":
    case "reservation.order_release":
    case "reservation.order_expire":
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
 * the changed fields in the same order; a field the resource did not show
 * then (the offer TTL before v4) is left out. A refused one changed nothing.
 */
function patchOf(after: unknown): RulesPatch {
  const a = after as Record<string, Json>;
  const time = (v: Json | undefined) => (typeof v === "string" ? Date.parse(v) : null);
  const fields: RulesPatch = {
    type: a.type as string,
    capacity: a.capacity as number,
    waitingListEnabled: a.waiting_list_enabled as boolean,
    bookingOpensAt: time(a.booking_opens_at),
    bookingClosesAt: time(a.booking_closes_at),
    maxQuantityPerReservation: a.max_quantity_per_reservation as number | null,
    holdTtlSeconds: a.hold_ttl_seconds as number,
    waitingListOfferTtlSeconds: a.waiting_list_offer_ttl_seconds as number,
    metadata: a.metadata as Record<string, Json>,
  };
  const shown = (k: string) => a[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] !== undefined;
  return Object.fromEntries(Object.entries(fields).filter(([k]) => shown(k))) as RulesPatch;
}
