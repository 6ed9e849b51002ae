/**
 * The waiting list inside a Resource object: joining, leaving, and the
 * notifications that freed capacity earns, each decided inside the object's
 * running transaction. The rules (who fits, who is refused) are in
 * domain/waiting-list.ts; this sequences them and keeps the counts the
 * object needs on every commit in memory.
 */
import { newOwnedId } from "../domain/ids";
import type { Decision } from "../domain/resource";
import { entriesToNotify, joinRefusal, placesToOffer } from "../domain/waiting-list";
import { errorReply, type Reply, refusalReply, waitingEntryJson } from "../http/render";
import { type Caller, type Cause, type Decided, decided, type JoinInput } from "./commands";
import type { Sequenced } from "./store";
import type { WaitingEntry, WaitingListStore } from "./waiting-list-store";

/** How many head entries one notification pass reads at most. */
const NOTIFY_SCAN = 1000;
const SILENT: Reply = { status: 200, headers: {}, body: "" };

export class WaitingDesk {
  /** Entries waiting, and places offered by notifications and not booked yet. */
  private counts = { waiting: 0, offered: 0 };

  constructor(private readonly entries: WaitingListStore) {}

  /** Reloads the counts from storage (after a load or a rolled-back transaction). */
  reload(): void {
    this.counts = this.entries.counts();
  }

  get length(): number {
    return this.counts.waiting;
  }

  entry(id: string): WaitingEntry | null {
    return this.entries.get(id);
  }

  /** Joins at the next `server_seq`; the same client joining again gets its entry back (200). */
  join(current: Sequenced, input: JoinInput, now: number): Decided | Reply {
    const existing = this.entries.activeOf(input.clientId);
    if (existing) return { status: 200, headers: {}, body: JSON.stringify(waitingEntryJson(existing)) };
    const seq = current.lastSeq + 1;
    const cause: Cause = {
      type: "waiting_list.join",
      requestId: input.requestId,
      clientId: input.clientId,
      quantity: input.quantity,
    };
    const refusal = joinRefusal(current.state);
    if (refusal) {
      const refused: Decision = { outcome: "REJECTED", code: "INVALID_STATE", reason: refusal, state: current.state };
      return decided(current, refused, seq, now, cause, refusalReply("INVALID_STATE", input.requestId));
    }
    const id = newOwnedId("wle_", current.state.id);
    this.entries.insert({
      id,
      clientId: input.clientId,
      quantity: input.quantity,
      status: "WAITING",
      serverSeq: seq,
      joinedAt: now,
      callbackUrl: input.callbackUrl,
    });
    this.counts.waiting += 1;
    cause.detail = { entry_id: id, callback_url: input.callbackUrl };
    const reply: Reply = {
      status: 201,
      headers: { Location: `/waiting-list/${id}` },
      body: JSON.stringify(waitingEntryJson(this.entries.get(id) as WaitingEntry)),
    };
    const joined: Decision = { outcome: "ACCEPTED", reason: "joined the waiting list", state: current.state };
    return decided(current, joined, seq, now, cause, reply);
  }

  /** Leaves the list; leaving twice, or after booking, returns the entry unchanged. */
  leave(current: Sequenced, input: Caller & { entryId: string }, now: number): Decided | Reply {
    const entry = this.entries.get(input.entryId);
    if (!entry) return errorReply("NOT_FOUND", "Waiting-list entry not found.", input.requestId);
    if (entry.status === "LEFT" || entry.status === "FULFILLED") {
      return { status: 200, headers: {}, body: JSON.stringify(waitingEntryJson(entry)) };
    }
    this.entries.setStatus(entry.id, "LEFT", now);
    if (entry.status === "WAITING") this.counts.waiting -= 1;
    else this.counts.offered -= entry.quantity;
    const decision: Decision = { outcome: "ACCEPTED", reason: "left the waiting list", state: current.state };
    const cause: Cause = {
      type: "waiting_list.leave",
      requestId: input.requestId,
      clientId: entry.clientId,
      quantity: entry.quantity,
      detail: { entry_id: entry.id },
    };
    const left = { ...entry, status: "LEFT" as const, position: null, leftAt: now };
    const reply: Reply = { status: 200, headers: {}, body: JSON.stringify(waitingEntryJson(left)) };
    return decided(current, decision, current.lastSeq + 1, now, cause, reply);
  }

  /**
   * Notifies entries head-first while their quantity fits the places not yet
   * offered, each as its own decision handed to `record` (which moves the
   * working state that `working` returns).
   */
  notify(working: () => Sequenced, now: number, record: (d: Decided) => void): void {
    if (this.counts.waiting === 0) return;
    const places = placesToOffer(working().state, this.counts.offered);
    if (places === 0) return;
    const head = this.entries.head(Math.min(places, NOTIFY_SCAN));
    for (const entry of entriesToNotify(head, places)) {
      const w = working();
      const callback = head.find((h) => h.id === entry.id)?.callbackUrl ?? null;
      this.entries.setStatus(entry.id, "NOTIFIED", now);
      this.counts.waiting -= 1;
      this.counts.offered += entry.quantity;
      const decision: Decision = {
        outcome: "ACCEPTED",
        reason: `offered ${entry.quantity} of ${places}`,
        state: w.state,
      };
      const cause: Cause = {
        type: "waiting_list.notify",
        requestId: "system",
        quantity: entry.quantity,
        detail: { entry_id: entry.id, callback_url: callback },
      };
      record(decided(w, decision, w.lastSeq + 1, now, cause, SILENT));
    }
  }

  /** A client booked: if it had been notified, its offer is taken up and no longer holds places back. */
  fulfil(clientId: string, now: number): void {
    if (this.counts.offered === 0) return;
    const entry = this.entries.activeOf(clientId);
    if (entry?.status !== "NOTIFIED") return;
    this.entries.setStatus(entry.id, "FULFILLED", now);
    this.counts.offered -= entry.quantity;
  }
}
