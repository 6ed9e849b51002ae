/**
 * Why a decision came out as it did, in one answer: the decision with its
 * exact reason, the state just before it (replayed, past-states.ts), the
 * availability snapshot a cached read showed at that moment, and the
 * decisions just before it in server_seq order, those made in the same
 * transaction marked. A reservation is explained by the decision that gave
 * it its status, with every decision about it.
 */

import { SYSTEM_REQUEST_ID } from "../domain/ids";
import type { Replayed } from "../domain/replay";
import type { Reservation } from "../domain/reservation";
import type { RecordedEntry } from "../domain/timeline";
import { type PastStates, pageOfHolders } from "./past-states";
import type { AvailabilityView, PastStore } from "./past-store";
import type { ResourceStore } from "./store";

export interface Explanation {
  decision: RecordedEntry;
  /** The state right after the decision before it, with its first BEFORE_HOLDERS holders. */
  before: Replayed;
  /** How many reservations held places then. */
  holdersBefore: number;
  /** The availability snapshot in KV at that moment, if this object published one still cached then. */
  view: AvailabilityView | null;
  /** The decisions just before it, oldest first. */
  competitors: RecordedEntry[];
  /** Every decision made under the same request id (a client may reuse one), oldest first. */
  requestSeqs: number[];
  /** For a reservation: the reservation now, and every decision about it. */
  reservation?: { now: Reservation; decisions: RecordedEntry[] };
}

/** Holders shown with the state before a decision; the state route pages through all of them. */
const BEFORE_HOLDERS = 50;

export type ExplainQuery = { competitors: number } & (
  | { seq: number }
  | { requestId: string }
  | { reservationId: string }
);

export class Explainer {
  constructor(
    private readonly store: ResourceStore,
    private readonly past: PastStore,
    private readonly states: PastStates,
    private readonly resourceId: () => string,
  ) {}

  /** Null when there is no such decision (or reservation) on this resource. */
  async explain(query: ExplainQuery): Promise<Explanation | null> {
    if ("reservationId" in query) return this.reservation(query.reservationId, query.competitors);
    const seqs = "seq" in query ? [query.seq] : this.past.seqsOfRequest(query.requestId);
    const seq = seqs.at(-1);
    if (seq === undefined) return null;
    const explained = await this.decision(seq, query.competitors);
    if (!explained) return null;
    return "seq" in query
      ? { ...explained, requestSeqs: this.requestSeqs(explained.decision) }
      : { ...explained, requestSeqs: seqs };
  }

  private async decision(seq: number, competitors: number): Promise<Omit<Explanation, "requestSeqs"> | null> {
    const decision = this.store.timelineEntry(seq);
    if (!decision) return null;
    const from = Math.max(0, seq - 1 - competitors);
    const { replayed: before, holdersTotal: holdersBefore } = pageOfHolders(
      await this.states.at(seq - 1),
      0,
      BEFORE_HOLDERS,
    );
    return {
      decision,
      before,
      holdersBefore,
      view: this.past.viewAt(decision.serverTimestamp),
      competitors: competitors === 0 ? [] : this.store.timeline(from, seq - 1 - from),
    };
  }

  private async reservation(id: string, competitors: number): Promise<Explanation | null> {
    const found = this.store.reservationsForHistory([id], this.resourceId())[0];
    if (!found) return null;
    const { updatedSeq, ...now } = found;
    const explained = await this.decision(updatedSeq, competitors);
    if (!explained) return null;
    const decisions = this.store.timelineOfReservation(id, now.serverSeq, updatedSeq);
    return { ...explained, requestSeqs: this.requestSeqs(explained.decision), reservation: { now, decisions } };
  }

  private requestSeqs(e: RecordedEntry): number[] {
    return e.requestId === SYSTEM_REQUEST_ID ? [e.seq] : this.past.seqsOfRequest(e.requestId);
  }
}
