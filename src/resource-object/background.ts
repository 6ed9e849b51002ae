/**
 * A Resource object's work after its commits: the outbox cursors and when
 * they are written, when the outbox drains (outbox/drainer.ts: a timer after
 * commits, the alarm as backstop, settling when quiet), its rounds
 * (outbox/round.ts sends, this records), the alarm's time, and availability
 * in KV while somebody reads it. Nothing here runs on the commit path except
 * `joinCommit`, which adds the backstop alarm and unsaved cursors to a commit
 * that is being made anyway.
 */
import { config } from "../config";
import { Meter, meterBinding } from "../lib/budget";
import { logResourceFailure } from "../lib/log";
import { countUsage } from "../lib/usage";
import { NEGATIVE_TTL_SECONDS, putMissing } from "../storage/availability-cache";
import type { HistoryMessage } from "../storage/history-writer";
import type { CommitFollower } from "./ledger";
import type { OutboxCursors, OutboxState } from "./outbox/cursors";
import { Drainer, TIMER_LIMIT_MS } from "./outbox/drainer";
import { historyMessages } from "./outbox/messages";
import { Outbox, type OutboxBindings, type OutboxParts } from "./outbox/round";
import type { PastStates } from "./past-states";

/** How soon after a commit the outbox is drained (a timer): batches bursts, keeps history lag well under 2 s. */
export const DRAIN_DELAY_MS = 100;
/**
 * The durable backstop: while work is pending, an alarm is set at most this
 * far ahead, so an object evicted before its timer fired still drains. Set
 * once per window, not per commit: an alarm costs storage writes of its own.
 */
export const BACKSTOP_MS = 60_000;

/** Decisions per `historyAfter` answer (the reconciler asks again for more). */
const HISTORY_PAGE = 1000;

/** The object's env, bindings and clock as they are now: tests swap them on the object. */
export interface ObjectIo {
  env: Env;
  bindings: OutboxBindings;
  clock: () => number;
}

/** The parts of the object that the background work reads and writes, beyond what a round reads. */
export interface BackgroundParts extends OutboxParts {
  storage: DurableObjectStorage;
  /** Where the outbox's cursors are stored. */
  cursors: OutboxCursors;
  /** State snapshots for replays, written after each round (not awaited). */
  pastStates: PastStates;
  io: () => ObjectIo;
}

export class Background implements CommitFollower {
  /** When the outbox drains; the object exposes it to tests (`quietMs`, `drainAt`). */
  readonly drainer: Drainer;
  /** When the pending alarm fires (epoch ms), or null. */
  private alarmAt: number | null = null;
  /** Sends what the timeline has for the queues and KV, a round at a time (`drainRound`). */
  private readonly outbox: Outbox;
  /** The outbox cursors, loaded once; see `saveOutbox`. */
  private progress: OutboxState | null = null;
  /** True when `progress` moved on since it was last written. */
  private outboxUnsaved = false;
  /** True while the alarm runs: its rounds save their cursors at once, it being the backstop. */
  private inAlarm = false;
  /** The KV write remembering this id as unknown, if this object made one (see `created`). */
  private missingWrite: Promise<void> | null = null;

  constructor(private readonly parts: BackgroundParts) {
    this.outbox = new Outbox(parts);
    this.drainer = new Drainer(
      () => this.drainRound(),
      () => this.settle(),
      (err) => logResourceFailure("drain failed, the backstop alarm retries", parts.ledger.current?.state.id, err),
    );
  }

  /** The object loaded its state: reads its alarm and takes up what a previous life left. */
  async wake(): Promise<void> {
    this.alarmAt = await this.parts.storage.getAlarm();
    // Work left by a previous life of this object (crash, eviction): drain it now.
    if (this.parts.ledger.current && !this.caughtUp()) this.drainer.drainAt(Date.now());
    // Evicted before it settled: settle now rather than be woken by the backstop with nothing to do.
    else if (this.parts.ledger.current && this.alarmAt !== this.parts.ledger.nextExpiry) this.drainer.settleWhenQuiet();
  }

  // ---- each commit (ledger.ts) ----------------------------------------------

  begin(): () => void {
    const [alarmAt, outboxUnsaved] = [this.alarmAt, this.outboxUnsaved];
    return () => {
      [this.alarmAt, this.outboxUnsaved] = [alarmAt, outboxUnsaved];
    };
  }

  /** The backstop alarm and the drain's cursors join this commit rather than making their own. */
  joinCommit(): void {
    this.scheduleAlarm(Date.now() + BACKSTOP_MS);
    if (this.outboxUnsaved) this.saveOutbox(true);
  }

  committed(): void {
    this.drainer.drainAt(Date.now() + DRAIN_DELAY_MS);
  }

  // ---- the alarm -------------------------------------------------------------

  /** The alarm fired: none is pending any more. */
  alarmFired(): void {
    this.alarmAt = null;
  }

  /** The alarm's drain: whatever a timer did not (after an eviction or a failure). */
  async drainInAlarm(): Promise<void> {
    this.inAlarm = true;
    try {
      await this.drainer.drain();
    } finally {
      this.inAlarm = false;
    }
  }

  // ---- the outbox's progress -------------------------------------------------

  /** True when every decision went to the history and webhook queues, and KV (if read) has the latest snapshot. */
  caughtUp(): boolean {
    const current = this.parts.ledger.current;
    if (!current) return true;
    const o = this.cursors();
    const last = current.lastSeq;
    const kvDone = o.kvVersion === current.state.version || o.kvReadUntil <= Date.now();
    return o.drainedSeq === last && o.webhookSeq === last && kvDone;
  }

  /** How many timeline entries have not left for the history queue yet. */
  backlog(): number {
    const current = this.parts.ledger.current;
    return current ? current.lastSeq - this.cursors().drainedSeq : 0;
  }

  /** The last decision sent to the history queue. */
  sentSeq(): number {
    return this.parts.ledger.current ? this.cursors().drainedSeq : 0;
  }

  /**
   * For the reconciler: this resource's decisions after `afterSeq` (up to
   * `upToSeq`) that already left the object (an unsent one is still the
   * outbox's to send) and were decided at least `minAgeMs` ago, as history
   * messages. At most HISTORY_PAGE decisions per call.
   */
  historyAfter(query: { afterSeq: number; upToSeq: number | null; minAgeMs: number }): HistoryMessage[] {
    const current = this.parts.ledger.current;
    if (!current) return [];
    const sent = Math.min(this.cursors().drainedSeq, query.upToSeq ?? Infinity);
    const cutoff = this.parts.io().clock() - query.minAgeMs;
    const entries = this.parts.store
      .timeline(query.afterSeq, Math.min(HISTORY_PAGE, Math.max(0, sent - query.afterSeq)))
      .filter((e) => e.seq <= sent && e.serverTimestamp <= cutoff);
    if (entries.length === 0) return [];
    const { state, lastSeq } = current;
    return historyMessages(this.parts.store, state, lastSeq, this.parts.waitingList.length, entries);
  }

  // ---- availability in KV ----------------------------------------------------

  /**
   * A read missed KV and got the object's snapshot: the resource counts as
   * read for `ttlSeconds`, during which its commits refresh KV, and KV gets
   * this version again now (through the drain, at most once a second).
   */
  readMissedKv(ttlSeconds: number): void {
    this.markRead(ttlSeconds);
    // KV missed: whatever it held expired or never came; write this version again.
    this.cursors().kvVersion = 0;
    this.drainer.drainAt(Date.now());
  }

  /** A read missed KV for an id with no resource: KV remembers it as missing. */
  rememberMissing(resourceId: string): void {
    const put = putMissing(this.parts.io().bindings.kv, resourceId);
    this.missingWrite = put.catch((err) => logResourceFailure("negative availability fill failed", resourceId, err));
  }

  /**
   * The resource was just created. If this object told KV "missing" in this
   * life, the first drain writes the real snapshot, after that write has
   * landed (drainRound waits for it): a late "missing" can never outlive the
   * resource's creation, and the commit itself waits for nothing.
   */
  created(): void {
    if (this.missingWrite) this.markRead(NEGATIVE_TTL_SECONDS);
  }

  // ---- drain rounds ----------------------------------------------------------

  /**
   * One round of outbox work (outbox/round.ts: the history and webhook queues, and KV), its sends
   * counted against a round's budget (lib/budget.ts; at most 20 batches per queue and one KV write),
   * then its progress and the next wake-up recorded in one transaction. Every SQLite commit costs a
   * disk sync (and in production a round trip to replicas), and with many lightly used resources
   * (one or two decisions per round) a commit per round would outnumber the decisions' own, so the
   * cursors are saved at once only when webhooks were queued (a crash must not queue them again);
   * otherwise they ride along with the next commit (`saveOutbox`). History sent again after a crash
   * is upserted: harmless.
   */
  private async drainRound(): Promise<void> {
    await this.missingWrite; // see created()
    const { env, bindings, clock } = this.parts.io();
    const meter = new Meter(this.inAlarm ? "object alarm" : "object drain round");
    const metered = {
      history: meterBinding(bindings.history, meter),
      webhooks: meterBinding(bindings.webhooks, meter),
      kv: meterBinding(bindings.kv, meter),
    };
    const done = await this.outbox.round(this.cursors(), { settings: config(env), bindings: metered, clock });
    this.parts.storage.transactionSync(() => {
      if (done.moved) this.saveOutbox(done.webhooksQueued);
      this.parts.past.saveViews(Date.now());
      this.wakeAt(done.next);
    });
    // Snapshots for replays come after the round and on their own: the outbox never waits for them.
    this.parts.pastStates.startSnapshots(this.parts.ledger.current?.lastSeq ?? 0);
  }

  /** Somebody reads this resource's availability: its commits refresh KV for `seconds`. */
  private markRead(seconds: number): void {
    this.cursors().kvReadUntil = Date.now() + seconds * 1000;
    this.outboxUnsaved = true;
  }

  private cursors(): OutboxState {
    this.progress ??= this.parts.cursors.load();
    return this.progress;
  }

  /**
   * Records the outbox cursors. `now` (or a round run by the alarm) writes
   * them in the running transaction; otherwise they ride along with the next
   * commit or the backstop alarm's round: a timer's drain makes no commit of its own. After a crash the unsaved
   * rounds are sent again, which the idempotent upserts make harmless.
   */
  private saveOutbox(now: boolean): void {
    if (!now && !this.inAlarm) {
      this.outboxUnsaved = true;
      return;
    }
    this.parts.cursors.save(this.cursors());
    this.outboxUnsaved = false;
  }

  /**
   * After a drain round: comes back at `at` (a timer when soon, else the
   * alarm), keeps the backstop alarm while work is pending, and wakes for the
   * next hold expiry. Called inside a transaction, so alarm writes join its commit.
   */
  private wakeAt(at: number | null): void {
    if (at !== null) {
      this.drainer.drainAt(at);
      this.scheduleAlarm(at - Date.now() > TIMER_LIMIT_MS ? at : Date.now() + BACKSTOP_MS);
    } else if (!this.inAlarm) this.drainer.settleWhenQuiet();
    else if (this.outboxUnsaved) this.saveOutbox(true); // the alarm's last round: nothing may stay unsaved
    const nextExpiry = this.parts.ledger.nextExpiry;
    if (nextExpiry !== null) this.scheduleAlarm(nextExpiry);
  }

  /**
   * Quiet with nothing left to drain (outbox/drainer.ts): records the cursors and
   * moves the alarm to the next hold expiry, or drops it, in one write.
   */
  private settle(): void {
    const current = this.parts.ledger.current;
    if (!current || !this.caughtUp()) return;
    const wanted = this.parts.ledger.nextExpiry;
    if (this.alarmAt === wanted && !this.outboxUnsaved) return;
    const storage = this.parts.storage;
    try {
      storage.transactionSync(() => {
        if (this.outboxUnsaved) this.parts.cursors.save(this.cursors());
        if (wanted === null) void storage.deleteAlarm();
        else void storage.setAlarm(wanted);
        countUsage("alarms");
      });
    } catch (err) {
      logResourceFailure("settling failed; the backstop alarm stays", current.state.id, err);
      return;
    }
    this.outboxUnsaved = false;
    this.alarmAt = wanted;
  }

  /** Sets the alarm to fire at `at` unless one is already due sooner. */
  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.parts.storage.setAlarm(at);
    countUsage("alarms");
  }
}
