/**
 * The commit pipeline of a Resource object: the committed state and the state
 * inside the running transaction, the one transaction per group of commands
 * (group-commit.ts), the timeline entry and resource row of every decision,
 * hold expiry and lapsed offers by server time, and the waiting list's
 * notifications. What a command decides is built elsewhere
 * (reservation-desk.ts, waiting-desk.ts); what leaves the object afterwards
 * is background.ts's.
 */
import { SYSTEM_REQUEST_ID } from "../domain/ids";
import type { Json } from "../domain/json";
import type { Reservation } from "../domain/reservation";
import { type Command, type Decision, decide } from "../domain/resource";
import type { TimelineEntry } from "../domain/timeline";
import { assert } from "../lib/assert";
import { errorReply, type Reply } from "../wire/render";
import {
  type Caller,
  type Cause,
  type CommandReply,
  type Decided,
  decided,
  logDecision,
  notFound,
  type TimelinePage,
} from "./commands";
import { GroupCommit } from "./group-commit";
import type { OrderItemsStore } from "./order-items-store";
import type { ResourceStore, Sequenced } from "./store";
import type { WaitingDesk } from "./waiting-desk";

/** Due holds read from storage at a time; a pass reads batch after batch until none is due. */
const EXPIRY_BATCH = 500;

/** What a command does with the state it meets: a decision to record, or an answer that records nothing. */
export type Run = (current: Sequenced) => Decided | Reply;

/** The outbox's part in every transaction that decides something (background.ts). */
export interface CommitFollower {
  /** Before a transaction: returns how to put back what the transaction may change in memory, if it rolls back. */
  begin(): () => void;
  /** Inside a transaction that decided something, just before it commits. */
  joinCommit(): void;
  /** After a transaction that decided something has committed. */
  committed(): void;
}

/** Before `follow`: nobody to tell. */
const NO_FOLLOWER: CommitFollower = { begin: () => () => {}, joinCommit() {}, committed() {} };

export class Ledger {
  /** Decides the commands that arrive together in one transaction. */
  readonly groupCommit: GroupCommit<CommandReply>;
  /** The committed resource row; replaced only after a transaction commits. */
  private committed: Sequenced | null = null;
  /** The state inside the running transaction: decisions chain on it. */
  private working: Sequenced | null = null;
  /**
   * Earliest time-driven work: a held reservation's `expires_at` or a
   * waiting-list offer's lapse, so most commands skip the expiry pass at a
   * glance, and the alarm wakes the object for it.
   */
  private due: number | null = null;
  /** Decisions of the running transaction, logged only once it has committed. */
  private unlogged: TimelineEntry[] = [];
  /** Hears of every commit (`follow`). */
  private follower: CommitFollower = NO_FOLLOWER;

  /** When the first undecided order item asks its coordinator (order-desk.ts); kept apart from `due`: commands never wait on it. */
  private orderAsk: number | null = null;

  /** `clock` is the object's clock (epoch ms); `storage` runs the transactions. */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: ResourceStore,
    private readonly waitingList: WaitingDesk,
    private readonly orderItems: OrderItemsStore,
    private readonly clock: () => number,
  ) {
    this.groupCommit = new GroupCommit((fn) => this.transact(fn));
  }

  /**
   * Attaches the outbox (background.ts), which hears of every commit. Apart
   * from the constructor so that the ledger is built first and what follows
   * it can read its state.
   */
  follow(follower: CommitFollower): void {
    this.follower = follower;
  }

  /** The committed state, or null while the resource does not exist. */
  get current(): Sequenced | null {
    return this.committed;
  }

  /** When time-driven work is next due (epoch ms): a hold's expiry, an offer's lapse, an order item's question; or null. */
  get nextExpiry(): number | null {
    if (this.orderAsk === null) return this.due;
    return this.due === null ? this.orderAsk : Math.min(this.due, this.orderAsk);
  }

  /** An order item changed (order-desk.ts): when the next one asks its coordinator is looked up again. */
  orderItemsChanged(): void {
    this.orderAsk = this.orderItems.nextAsk();
  }

  /** Loads the committed state from storage (the object woke up). */
  load(): void {
    this.committed = this.store.loadResource();
    this.loadDerived();
  }

  /** A hold was placed: the object wakes for its expiry. */
  holdPlaced(expiresAt: number): void {
    this.due = Math.min(this.due ?? Infinity, expiresAt);
  }

  /** A hold left HELD before it expired: the next due time is looked up again. */
  holdLeft(): void {
    this.due = this.nextDue();
  }

  /**
   * The time of the next decision. Wall clocks can step back; server_timestamp
   * must not, or replaying the timeline in server_seq order could see time run
   * backwards.
   */
  serverTime(current: Sequenced): number {
    return Math.max(this.clock(), current.lastTimestamp);
  }

  /**
   * Queues a command for the next group (group-commit.ts); see `decideCommand`.
   */
  commit(caller: Caller, run: Run, { needsResource } = { needsResource: true }): Promise<CommandReply> {
    return this.groupCommit.submit(() => this.decideCommand(caller, run, needsResource));
  }

  /** Runs due work (hold expiry, notifications) now if a read or alarm finds some. */
  processDue(always = false): void {
    if (!this.committed) return;
    if (always || (this.due !== null && this.clock() >= this.due)) {
      this.transact(() => {
        this.expireDue();
        this.notifyWaiting();
      });
    }
  }

  /**
   * Records a decision that does not come from a client, e.g. a dead-lettered
   * webhook; under `onceKey` (like an Idempotency-Key) at most once.
   */
  recordNote(type: string, reason: string, detail: Record<string, Json>, onceKey?: string): void {
    if (onceKey !== undefined && this.store.findReply(onceKey)) return;
    this.transact(() => {
      const current = this.working;
      assert(current, "a note is recorded on a resource that exists");
      const now = this.serverTime(current);
      const decision: Decision = { outcome: "ACCEPTED", reason, state: current.state };
      const cause: Cause = { type, requestId: SYSTEM_REQUEST_ID, detail };
      const reply = { status: 200, headers: {}, body: "" };
      const once = onceKey === undefined ? undefined : { key: onceKey, fingerprint: "", ...reply };
      this.record(decided(current, decision, current.lastSeq + 1, now, cause, reply), once);
    });
  }

  /** A page of the timeline after `afterSeq`; null for an unknown resource. */
  timeline(query: { afterSeq: number; limit: number }): TimelinePage | null {
    if (!this.committed) return null;
    const items = this.store.timeline(query.afterSeq, query.limit);
    const last = items.at(-1);
    const more = last !== undefined && items.length === query.limit && last.seq < this.committed.lastSeq;
    return { items, nextAfterSeq: more ? last.seq : null };
  }

  /**
   * Runs a command inside the group's transaction and records its decision: the timeline
   * entry, the resource row and, under an `Idempotency-Key`, the first reply in
   * that same entry. A retry with the same key and fingerprint gets the stored
   * reply, one with another fingerprint gets 422, so a key never decides twice.
   * Due holds expire first, so no decision after `expires_at` sees them; the
   * waiting list hears of any room the command freed. A command answered
   * without a decision (404, 409 RESOURCE_EXISTS, 412) records nothing.
   */
  private decideCommand(caller: Caller, run: Run, needsResource: boolean): CommandReply {
    const { idempotency, requestId } = caller;
    // An object that never stored anything has no tables to look a key up in; a 404 is never stored anyway.
    if (needsResource && !this.working) return { ...notFound(requestId), replayed: false };
    const stored = idempotency ? this.store.findReply(idempotency.key) : null;
    if (stored && idempotency) {
      if (stored.fingerprint !== idempotency.fingerprint) {
        const message = "This Idempotency-Key was used with a different request.";
        return { ...errorReply("IDEMPOTENCY_KEY_REUSED", message, requestId), replayed: false };
      }
      const { fingerprint: _, ...reply } = stored;
      return { ...reply, replayed: true };
    }
    // What is due by server time happens first, notifications of the places it freed included, so the
    // command meets a settled line (a join's reply relies on it) and every count it decides on is exact.
    this.expireDue();
    this.notifyWaiting();
    const current = this.working;
    const result = run(current as Sequenced);
    if (!("entry" in result)) return { ...result, replayed: false };
    // Real time, not the injectable clock: this measures, it does not decide.
    if (caller.receivedAt !== undefined) result.entry.latencyMs = Math.max(0, Date.now() - caller.receivedAt);
    this.record(result, idempotency && { ...idempotency, ...result.reply });
    this.notifyWaiting(result.entry.serverTimestamp); // the same step: at the decision's time
    return { ...result.reply, replayed: false };
  }

  /** Writes a decision inside the running transaction and moves the working state on. */
  private record(d: Decided, remembered?: Parameters<ResourceStore["appendTimeline"]>[2]): void {
    const { entry, next } = d;
    assert(entry.seq === (this.working?.lastSeq ?? 0) + 1, "a decision takes the next server_seq");
    assert(entry.serverTimestamp >= (this.working?.lastTimestamp ?? 0), "server time never goes back");
    const { confirmed, held, capacity } = next.state;
    assert(confirmed >= 0 && held >= 0, "confirmed and held are never negative");
    assert(confirmed + held <= capacity, "confirmed + held never exceed capacity");
    // The transaction's first seq marks the decisions made in one moment (explainer.ts).
    const commitGroup = (this.committed?.lastSeq ?? 0) + 1;
    this.store.appendTimeline(entry, commitGroup, remembered);
    this.unlogged.push(entry);
    if (d.write === "whole") this.store.saveResource(next);
    else this.store.saveCounters(next);
    this.working = next;
  }

  /**
   * A unit of work: decisions made inside chain on `working`, which becomes
   * `current` only once the transaction has committed. If anything throws,
   * SQLite rolls back and the in-memory view is rebuilt from storage.
   */
  private transact<T>(fn: () => T): T {
    this.working = this.committed;
    this.unlogged = [];
    const restore = this.follower.begin();
    let result: T;
    try {
      result = this.storage.transactionSync(() => {
        const value = fn();
        // The backstop alarm and the drain's cursors join this commit rather than making their own.
        if (this.working !== this.committed) this.follower.joinCommit();
        return value;
      });
    } catch (err) {
      // The alarm and cursor writes rolled back with the rest.
      restore();
      this.loadDerived();
      throw err;
    }
    // Only decisions that committed are logged: a rolled-back group is decided again.
    for (const entry of this.unlogged) logDecision(this.working?.state.id ?? "", entry);
    this.unlogged = [];
    if (this.working !== this.committed) this.follower.committed();
    this.committed = this.working;
    return result;
  }

  /**
   * Expires every hold whose `expires_at` has passed, each as its own
   * decision. All of them, however many, within this transaction: a decision
   * made on a partly expired wave would refuse places that are free by server
   * time, and a later request could then win them (first come, first served).
   */
  private expireDue(): void {
    const current = this.working;
    if (!current || this.due === null) return;
    const now = this.serverTime(current);
    if (now < this.due) return;
    let batch: { id: string }[];
    do {
      // Each expired hold leaves the HELD index, so the next read starts after it.
      batch = this.store.dueHolds(now, EXPIRY_BATCH);
      for (const hold of batch) this.expireHold(hold.id, now);
    } while (batch.length === EXPIRY_BATCH);
    // Offers lapse the same way, exactly by server time; `notifyWaiting` then offers their places again.
    this.waitingList.lapse(
      () => this.working as Sequenced,
      now,
      (d) => this.record(d),
    );
    this.due = this.nextDue();
  }

  /** Earliest hold expiry or offer lapse, or null. */
  private nextDue(): number | null {
    const hold = this.store.nextHoldExpiry();
    const lapse = this.waitingList.nextLapse;
    return hold === null ? lapse : lapse === null ? hold : Math.min(hold, lapse);
  }

  private expireHold(id: string, now: number): void {
    const working = this.working;
    assert(working, "holds expire on a resource that exists");
    const found = this.store.getReservation(id, working.state.id) as Reservation;
    const command: Command = { type: "reservation", action: "expire", reservation: found };
    // Decided at the time it is recorded with, so a replay of the timeline decides it the same way.
    const decision = decide(working.state, command, now);
    const seq = working.lastSeq + 1;
    const status = decision.outcome === "ACCEPTED" ? (decision.reservationStatus ?? found.status) : found.status;
    if (status !== found.status) this.store.setStatus(found.id, status, now, seq);
    const cause: Cause = {
      type: "reservation.expire",
      requestId: SYSTEM_REQUEST_ID,
      clientId: found.clientId,
      quantity: found.quantity,
      detail: { reservation_id: found.id, status },
    };
    this.record(decided(working, decision, seq, now, cause, { status: 200, headers: {}, body: "" }));
  }

  /**
   * Lets the waiting list hear of any room the running transaction freed, and
   * of places it took or rules it changed (waiting-desk.ts `settle`).
   */
  private notifyWaiting(at?: number): void {
    const working = this.working;
    if (!working) return;
    this.waitingList.settle(
      () => this.working as Sequenced,
      at ?? this.serverTime(working),
      (d) => this.record(d),
    );
    const lapse = this.waitingList.nextLapse; // a new offer: wake when it lapses
    if (lapse !== null && (this.due === null || lapse < this.due)) this.due = lapse;
  }

  /** Rebuilds the in-memory views that storage already holds. */
  private loadDerived(): void {
    if (!this.committed) return;
    this.waitingList.reload();
    this.due = this.nextDue();
    this.orderAsk = this.orderItems.nextAsk();
  }
}
