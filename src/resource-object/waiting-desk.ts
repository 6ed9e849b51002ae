/**
 * The waiting list inside a Resource object: joining, leaving, and the
 * notifications (offers) that freed capacity earns, their lapse and their
 * fulfilment, each decided inside the object's running transaction. The rules
 * (who fits, which offers count, when they lapse, who can never book) are in
 * domain/waiting-list.ts; this answers them from SQLite, records a decision
 * for every entry that changes status, and keeps in memory the counts the
 * object needs on every commit.
 */
import { newOwnedId, SYSTEM_REQUEST_ID } from "../domain/ids";
import type { Decision } from "../domain/resource";
import {
  joinRefusal,
  type Line,
  lapseOffers,
  notifiedOnJoin,
  offerLapsesAt,
  settleLine,
  type WaitingEntryRef,
} from "../domain/waiting-list";
import { errorReply, iso, type Reply, refusalReply, waitingEntryJson } from "../wire/render";
import { type Caller, type Cause, type Decided, decided, type JoinInput } from "./commands";
import type { Sequenced } from "./store";
import type { WaitingEntry, WaitingListStore } from "./waiting-list-store";

const SILENT: Reply = { status: 200, headers: {}, body: "" };

type Recorder = (d: Decided) => void;
type Head = WaitingEntryRef & { callbackUrl: string | null };

export class WaitingDesk {
  /** Entries waiting, entries notified, and the places their offers still count. */
  private counts = { waiting: 0, notified: 0, offered: 0 };
  /** Earliest lapse of a live offer: may be early after an offer ended otherwise, never late. */
  private lapseAt: number | null = null;
  /** The `rules_version` the line was last checked against for entries that can never book; null: not yet. */
  private checkedRules: number | null = null;

  constructor(private readonly entries: WaitingListStore) {}

  /** Reloads the counts from storage (after a load or a rolled-back transaction). */
  reload(): void {
    this.counts = this.entries.counts();
    this.lapseAt = this.entries.nextLapse();
    this.checkedRules = null;
  }

  get length(): number {
    return this.counts.waiting;
  }

  /** When the next offer lapses (epoch ms), or null: the object wakes for it as it does for a hold's expiry. */
  get nextLapse(): number | null {
    return this.lapseAt;
  }

  entry(id: string): WaitingEntry | null {
    return this.entries.get(id);
  }

  /**
   * Joins at the next `server_seq`; the same client joining again gets its
   * entry back (200). The reply shows the entry as it will be stored once
   * the command's step is done: `settle`, which runs right after, notifies it
   * at once when nobody waits ahead and its quantity fits (`notifiedOnJoin`).
   */
  join(current: Sequenced, input: JoinInput, now: number): Decided | Reply {
    const existing = this.entries.activeOf(input.clientId);
    if (existing) return { status: 200, headers: {}, body: JSON.stringify(waitingEntryJson(existing)) };
    const state = current.state;
    const refusal = joinRefusal(state, input.quantity);
    if (refusal?.code === "VALIDATION_ERROR") {
      // A body this resource can never serve, like any other invalid field: answered, not a decision.
      const message = "quantity: larger than this resource can ever book";
      return errorReply("VALIDATION_ERROR", message, input.requestId, [{ field: "quantity", issue: "too_big" }]);
    }
    const seq = current.lastSeq + 1;
    const cause: Cause = {
      type: "waiting_list.join",
      requestId: input.requestId,
      clientId: input.clientId,
      quantity: input.quantity,
    };
    if (refusal) {
      const refused: Decision = { outcome: "REJECTED", code: refusal.code, reason: refusal.reason, state };
      return decided(current, refused, seq, now, cause, refusalReply(refusal.code, input.requestId));
    }
    const id = newOwnedId("wle_", state.id);
    this.entries.insert({
      id,
      clientId: input.clientId,
      quantity: input.quantity,
      status: "WAITING",
      serverSeq: seq,
      joinedAt: now,
      callbackUrl: input.callbackUrl,
    });
    const notified = notifiedOnJoin(state, this.counts.offered, this.counts.waiting, input.quantity);
    this.counts.waiting += 1;
    cause.detail = { entry_id: id, callback_url: input.callbackUrl };
    const stored = this.entries.get(id) as WaitingEntry;
    const shown: WaitingEntry = notified
      ? {
          ...stored,
          status: "NOTIFIED",
          position: null,
          notifiedAt: now,
          offerExpiresAt: offerLapsesAt(state, now),
          offered: input.quantity,
        }
      : stored;
    const reply: Reply = {
      status: 201,
      headers: { Location: `/waiting-list/${id}` },
      body: JSON.stringify(waitingEntryJson(shown)),
    };
    const joined: Decision = { outcome: "ACCEPTED", reason: "joined the waiting list", state };
    return decided(current, joined, seq, now, cause, reply);
  }

  /** Leaves the list; leaving twice, or after booking or expiring, returns the entry unchanged. */
  leave(current: Sequenced, input: Caller & { entryId: string }, now: number): Decided | Reply {
    const entry = this.entries.get(input.entryId);
    if (!entry) return errorReply("NOT_FOUND", "Waiting-list entry not found.", input.requestId);
    if (entry.status !== "WAITING" && entry.status !== "NOTIFIED") {
      return { status: 200, headers: {}, body: JSON.stringify(waitingEntryJson(entry)) };
    }
    this.entries.close(entry.id, "LEFT", now);
    this.forget(entry);
    const decision: Decision = { outcome: "ACCEPTED", reason: "left the waiting list", state: current.state };
    const cause: Cause = {
      type: "waiting_list.leave",
      requestId: input.requestId,
      clientId: entry.clientId,
      quantity: entry.quantity,
      detail: { entry_id: entry.id },
    };
    const left: WaitingEntry = { ...entry, status: "LEFT", position: null, offered: 0, leftAt: now };
    const reply: Reply = { status: 200, headers: {}, body: JSON.stringify(waitingEntryJson(left)) };
    return decided(current, decision, current.lastSeq + 1, now, cause, reply);
  }

  /** Offers due by `now` lapse, each as its own decision handed to `record`. Runs with hold expiry. */
  lapse(working: () => Sequenced, now: number, record: Recorder): void {
    if (!this.lapseDue(now)) return;
    lapseOffers(this.line(working, now, record), now);
    this.lapseAt = this.entries.nextLapse();
  }

  /**
   * Brings the line up to date after a change (domain `settleLine`): lapses,
   * entries a rule change stranded, offers whose places are gone, and
   * notifications head-first. Each status change is its own decision handed
   * to `record` (which moves the working state that `working` returns).
   */
  settle(working: () => Sequenced, now: number, record: Recorder): void {
    const state = working().state;
    const rulesChanged = this.checkedRules !== state.rulesVersion;
    const lapsing = this.lapseDue(now);
    settleLine(this.line(working, now, record), state, now, rulesChanged);
    if (lapsing) this.lapseAt = this.entries.nextLapse();
    this.checkedRules = state.rulesVersion;
  }

  private lapseDue(now: number): boolean {
    return this.lapseAt !== null && now >= this.lapseAt;
  }

  /** A client booked: if it had been notified, its offer is taken up and no longer holds places back. */
  fulfil(clientId: string, now: number): void {
    if (this.counts.notified === 0) return;
    const entry = this.entries.activeOf(clientId);
    if (entry?.status !== "NOTIFIED") return;
    this.entries.close(entry.id, "FULFILLED", now);
    this.forget(entry);
  }

  /** An active entry stopped being active: it no longer waits, or its offer no longer counts. */
  private forget(entry: Pick<WaitingEntry, "status" | "offered">): void {
    if (entry.status === "WAITING") this.counts.waiting -= 1;
    else {
      this.counts.notified -= 1;
      this.counts.offered -= entry.offered;
    }
  }

  /** The line as domain/waiting-list.ts sees it, answered from SQLite; changes are stored and recorded as they come. */
  private line(working: () => Sequenced, now: number, record: Recorder): Line<Head> {
    const counts = this.counts;
    const entries = this.entries;
    const decide = (cause: Cause, reason: string) => {
      const w = working();
      const decision: Decision = { outcome: "ACCEPTED", reason, state: w.state };
      record(decided(w, decision, w.lastSeq + 1, now, cause, SILENT));
    };
    return {
      get waiting() {
        return counts.waiting;
      },
      get notified() {
        return counts.notified;
      },
      get offered() {
        return counts.offered;
      },
      lapsedOffers: (at, limit) => (this.lapseDue(at) ? entries.lapsedOffers(at, limit) : []),
      entriesAbove: (max, limit) => entries.activeAbove(max, limit),
      countedOffers: (limit) => entries.countedOffers(limit),
      head: (limit) => entries.head(limit),
      expire: (ref, cause, reason) => {
        const entry = entries.get(ref.id) as WaitingEntry;
        entries.close(entry.id, "EXPIRED", now);
        this.forget(entry);
        const detail = { entry_id: entry.id, cause, offer_expires_at: iso(entry.offerExpiresAt) };
        decide(
          {
            type: "waiting_list.expire",
            requestId: SYSTEM_REQUEST_ID,
            clientId: entry.clientId,
            quantity: entry.quantity,
            detail,
          },
          reason,
        );
      },
      uncount: (offer, counted) => {
        entries.setOffered(offer.id, counted);
        counts.offered -= offer.counted - counted;
      },
      notify: (entry, lapsesAt, reason) => {
        entries.notify(entry.id, now, lapsesAt);
        counts.waiting -= 1;
        counts.notified += 1;
        counts.offered += entry.quantity;
        this.lapseAt = Math.min(this.lapseAt ?? lapsesAt, lapsesAt);
        const detail = { entry_id: entry.id, callback_url: entry.callbackUrl, offer_expires_at: iso(lapsesAt) };
        decide({ type: "waiting_list.notify", requestId: SYSTEM_REQUEST_ID, quantity: entry.quantity, detail }, reason);
      },
    };
  }
}
