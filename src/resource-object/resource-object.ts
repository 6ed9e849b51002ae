import { DurableObject } from "cloudflare:workers";
import { config } from "../config";
import { newReservationId } from "../domain/ids";
import { type Reservation, type ReservationAction, withStatus } from "../domain/reservation";
import {
  type Command,
  createResource,
  type Decision,
  decide,
  type Json,
  type ResourceState,
  type RulesPatch,
} from "../domain/resource";
import { countingSql, countUsage } from "../lib/usage";
import {
  type Availability,
  availabilityKey,
  availabilityOf,
  NEGATIVE_TTL_SECONDS,
} from "../storage/availability-cache";
import type { HistoryMessage } from "../storage/history-writer";
import { errorReply, type Reply, refusalReply, reservationJson, resourceJson } from "../wire/render";
import { logWarn, type OutboxBindings, runOutboxRound } from "./alarm";
import {
  type Caller,
  type Cause,
  type CommandReply,
  type CreateInput,
  type Decided,
  decided,
  type JoinInput,
  logDecision,
  notFound,
  type ReserveInput,
  type TimelinePage,
} from "./commands";
import { Drainer, TIMER_LIMIT_MS } from "./drainer";
import { GroupCommit } from "./group-commit";
import { historyMessages } from "./outbox";
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from "./schema";
import { type OutboxState, ResourceStore, type Sequenced, type TimelineEntry } from "./store";
import { WaitingDesk } from "./waiting-desk";
import { type WaitingEntry, WaitingListStore } from "./waiting-list-store";

/** How soon after a commit the outbox is drained (a timer): batches bursts, keeps history lag well under 2 s. */
export const DRAIN_DELAY_MS = 100;
/**
 * The durable backstop: while work is pending, an alarm is set at most this
 * far ahead, so an object evicted before its timer fired still drains. Set
 * once per window, not per commit: an alarm costs storage writes of its own.
 */
export const BACKSTOP_MS = 60_000;

/** Due holds read from storage at a time; a pass reads batch after batch until none is due. */
const EXPIRY_BATCH = 500;
/** Decisions per `historyAfter` answer (the reconciler asks again for more). */
const HISTORY_PAGE = 1000;

/**
 * One resource's single source of truth. Every command runs to completion
 * with no `await` inside, in arrival order, inside one `transactionSync`
 * shared with the commands that arrived in the same moment (group-commit.ts):
 * commits are serialized and atomic, and a crash mid-group leaves nothing
 * half-written and nothing answered.
 *
 * Commands answer with a rendered reply (status, headers, body), because an
 * idempotent command must store its first reply in the same transaction as
 * its decision, and replay exactly those bytes.
 */
export class ResourceObject extends DurableObject<Env> {
  /** The one clock (epoch ms). Tests replace it to move time without sleeping. */
  clock: () => number = () => Date.now();
  /** Where the outbox goes; tests wrap them to inject faults. */
  bindings: OutboxBindings;
  /** Decides the commands that arrive together in one transaction. */
  readonly groupCommit: GroupCommit<CommandReply>;

  private readonly store: ResourceStore;
  private readonly desk: WaitingDesk;
  /** The committed resource row; replaced only after a transaction commits. */
  private current: Sequenced | null = null;
  /** The state inside the running transaction: decisions chain on it. */
  private working: Sequenced | null = null;
  /**
   * Earliest time-driven work: a held reservation's `expires_at` or a
   * waiting-list offer's lapse, so most commands skip the expiry pass at a
   * glance, and the alarm wakes the object for it.
   */
  private nextExpiry: number | null = null;
  /** When the pending alarm fires (epoch ms), or null. */
  private alarmAt: number | null = null;
  private readonly drainer: Drainer;
  /** The outbox cursors, loaded once; see `saveOutbox`. */
  private outbox: OutboxState | null = null;
  /** True when `outbox` moved on since it was last written. */
  private outboxUnsaved = false;
  /** True while the alarm runs: its rounds save their cursors at once, it being the backstop. */
  private inAlarm = false;
  /** The KV write remembering this id as unknown, while it is on its way (see `create`). */
  private missingWrite: Promise<void> | null = null;
  /** Decisions of the running transaction, logged only once it has committed. */
  private unlogged: TimelineEntry[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.bindings = { history: env.HISTORY_QUEUE, webhooks: env.WEBHOOK_QUEUE, kv: env.AVAILABILITY };
    const sql = countingSql(ctx.storage.sql);
    this.store = new ResourceStore(sql);
    this.desk = new WaitingDesk(new WaitingListStore(sql, () => this.current?.state.id ?? ""));
    this.groupCommit = new GroupCommit((fn) => this.transact(fn));
    this.drainer = new Drainer(
      () => this.drainRound(),
      () => this.settle(),
      (err) => logWarn("drain failed, the backstop alarm retries", this.current?.state.id, err),
    );
    ctx.blockConcurrencyWhile(async () => {
      // An object that never stored anything stays empty: probing an unknown
      // id must not leave a database behind. `create` applies the schema.
      const version = schemaVersion(ctx.storage.sql);
      if (version === 0) return;
      // Objects wake often (an idle one is evicted after seconds): an up-to-date schema costs no transaction.
      if (version < LATEST_SCHEMA_VERSION) ctx.storage.transactionSync(() => migrate(ctx.storage.sql));
      this.current = this.store.loadResource();
      this.loadDerived();
      this.alarmAt = await ctx.storage.getAlarm();
      // Work left by a previous life of this object (crash, eviction): drain it now.
      if (this.current && !this.outboxCaughtUp()) this.drainer.drainAt(Date.now());
      // Evicted before it settled: settle now rather than be woken by the backstop with nothing to do.
      else if (this.current && this.alarmAt !== this.nextExpiry) this.drainer.settleWhenQuiet();
    });
  }

  // ---- commands ----------------------------------------------------------

  async create(input: CreateInput): Promise<CommandReply> {
    // A "missing" snapshot this object is still writing must land before the resource exists: the
    // route deletes it once created, and a write landing after that delete would hide the resource.
    await this.missingWrite;
    // The schema must exist before the idempotency record can be looked up.
    // No await separates this from the command, so nothing can run between.
    if (!this.current) this.ctx.storage.transactionSync(() => migrate(this.ctx.storage.sql));
    const create = () => {
      if (this.working) return errorReply("RESOURCE_EXISTS", "A resource with this id exists.", input.requestId);
      const now = this.clock();
      const state = createResource(input.spec, now);
      const after = resourceJson(state);
      const entry: TimelineEntry = {
        seq: 1,
        serverTimestamp: now,
        type: "resource.create",
        requestId: input.requestId,
        clientId: null,
        quantity: null,
        outcome: "ACCEPTED",
        code: null,
        reason: `created with capacity ${state.capacity}`,
        detail: { spec: input.spec, actor: input.actor ?? null, route: input.route ?? null, before: null, after },
        versionBefore: 0,
        versionAfter: state.version,
        rulesVersion: state.rulesVersion,
        latencyMs: null,
      };
      const next: Sequenced = { state, lastSeq: 1, lastTimestamp: now };
      return { entry, next, reply: this.resourceReply(state, 201), write: "whole" } satisfies Decided;
    };
    return this.commit(input, create, { needsResource: false });
  }

  reserve(input: ReserveInput): Promise<CommandReply> {
    return this.commit(input, (current) => {
      const { quantity, hold, clientId } = input;
      const { decision, seq, now } = this.decideNext(current, { type: "reserve", quantity, hold });
      const cause: Cause = {
        type: "reservation.reserve",
        requestId: input.requestId,
        clientId,
        quantity,
        detail: { hold },
      };
      if (decision.outcome === "REJECTED") {
        return decided(current, decision, seq, now, cause, refusalReply(decision.code, input.requestId));
      }
      const reservation: Reservation = {
        id: newReservationId(current.state.id),
        resourceId: current.state.id,
        clientId,
        quantity,
        status: hold ? "HELD" : "CONFIRMED",
        serverTimestamp: now,
        serverSeq: seq,
        expiresAt: decision.expiresAt ?? null,
        rulesVersion: current.state.rulesVersion,
        metadata: input.metadata,
        cancelledAt: null,
        expiredAt: null,
        checkedInAt: null,
      };
      this.store.insertReservation(reservation);
      if (reservation.expiresAt !== null)
        this.nextExpiry = Math.min(this.nextExpiry ?? Infinity, reservation.expiresAt);
      this.desk.fulfil(clientId, now);
      cause.detail = {
        hold,
        reservation_id: reservation.id,
        status: reservation.status,
        expires_at: reservation.expiresAt,
      };
      const reply: Reply = {
        status: 201,
        headers: { Location: `/reservations/${reservation.id}` },
        body: JSON.stringify(reservationJson(reservation)),
      };
      return decided(current, decision, seq, now, cause, reply);
    });
  }

  confirm(input: Caller & { reservationId: string }): Promise<CommandReply> {
    return this.reservationCommand("confirm", input);
  }

  cancel(input: Caller & { reservationId: string }): Promise<CommandReply> {
    return this.reservationCommand("cancel", input);
  }

  checkIn(input: Caller & { reservationId: string }): Promise<CommandReply> {
    return this.reservationCommand("check_in", input);
  }

  /** PATCH: changes rules and metadata. `ifMatch` is the version the caller saw (412 when stale). */
  update(input: Caller & { patch: RulesPatch; ifMatch?: number }): Promise<CommandReply> {
    return this.commit(input, (current) => {
      if (input.ifMatch !== undefined && input.ifMatch !== current.state.version) {
        return errorReply("PRECONDITION_FAILED", "The resource changed since that version.", input.requestId);
      }
      const { decision, seq, now } = this.decideNext(current, { type: "update", patch: input.patch });
      return this.adminDecided(current, decision, seq, now, "resource.update", input);
    });
  }

  close(input: Caller): Promise<CommandReply> {
    return this.commit(input, (current) => {
      const { decision, seq, now } = this.decideNext(current, { type: "close" });
      return this.adminDecided(current, decision, seq, now, "resource.close", input);
    });
  }

  reopen(input: Caller): Promise<CommandReply> {
    return this.commit(input, (current) => {
      const { decision, seq, now } = this.decideNext(current, { type: "reopen" });
      return this.adminDecided(current, decision, seq, now, "resource.reopen", input);
    });
  }

  /** Joins the waiting list; the same client joining again gets its entry back (200). */
  join(input: JoinInput): Promise<CommandReply> {
    return this.commit(input, (current) => this.desk.join(current, input, this.serverTime(current)));
  }

  leave(input: Caller & { entryId: string }): Promise<CommandReply> {
    return this.commit(input, (current) => this.desk.leave(current, input, this.serverTime(current)));
  }

  // ---- reads -------------------------------------------------------------

  /** Answers without touching storage: a liveness probe and the benchmarks' RPC floor. */
  ping(): { ok: true } {
    return { ok: true };
  }

  get(): { state: ResourceState; waitingListLength: number } | null {
    this.processDue();
    return this.current ? { state: this.current.state, waitingListLength: this.desk.length } : null;
  }

  /** The current availability snapshot. */
  availability(): Availability | null {
    this.processDue();
    return this.current ? availabilityOf(this.current.state, this.clock()) : null;
  }

  /**
   * The availability snapshot for a read that missed KV. Only the object
   * writes KV, so a late write can never replace a newer snapshot: this one
   * fills it (through the drain, at most once a second), and the resource
   * counts as read for a TTL, during which its commits refresh KV too.
   * Nobody reading, no KV writes. An unknown id is remembered as missing.
   */
  availabilityForCache(resourceId: string): Availability | null {
    const settings = config(this.env);
    if (!this.current) {
      const missing = JSON.stringify({ missing: true });
      const put = this.bindings.kv.put(availabilityKey(resourceId), missing, { expirationTtl: NEGATIVE_TTL_SECONDS });
      countUsage("kvWrites");
      this.missingWrite = put.catch((err) => logWarn("negative availability fill failed", resourceId, err));
      return null;
    }
    const snapshot = this.availability() as Availability;
    this.markRead(settings.AVAILABILITY_TTL_SECONDS);
    // KV missed: whatever it held expired or never came; write this version again.
    this.outboxCursors().kvVersion = 0;
    this.drainer.drainAt(Date.now());
    return snapshot;
  }

  getReservation(id: string): Reservation | null {
    this.processDue();
    return this.current ? this.store.getReservation(id, this.current.state.id) : null;
  }

  getWaitingEntry(id: string): WaitingEntry | null {
    this.processDue();
    return this.current ? this.desk.entry(id) : null;
  }

  timeline(query: { afterSeq: number; limit: number }): TimelinePage | null {
    if (!this.current) return null;
    const items = this.store.timeline(query.afterSeq, query.limit);
    const last = items.at(-1);
    const more = last !== undefined && items.length === query.limit && last.seq < this.current.lastSeq;
    return { items, nextAfterSeq: more ? last.seq : null };
  }

  /** How many timeline entries have not left for the history queue yet. */
  outboxBacklog(): number {
    return this.current ? this.current.lastSeq - this.outboxCursors().drainedSeq : 0;
  }

  /** The last decision sent to the history queue. */
  sentSeq(): number {
    return this.current ? this.outboxCursors().drainedSeq : 0;
  }

  /** True when every decision went to the history and webhook queues, and KV (if read) has the latest snapshot. */
  outboxCaughtUp(): boolean {
    if (!this.current) return true;
    const o = this.outboxCursors();
    const last = this.current.lastSeq;
    const kvDone = o.kvVersion === this.current.state.version || o.kvReadUntil <= Date.now();
    return o.drainedSeq === last && o.webhookSeq === last && kvDone;
  }

  /**
   * For the reconciler: this resource's decisions after `afterSeq` (up to
   * `upToSeq`) that already left the object (an unsent one is still the
   * outbox's to send) and were decided at least `minAgeMs` ago, as history
   * messages. At most HISTORY_PAGE decisions per call.
   */
  historyAfter(query: { afterSeq: number; upToSeq: number | null; minAgeMs: number }): HistoryMessage[] {
    if (!this.current) return [];
    const sent = Math.min(this.outboxCursors().drainedSeq, query.upToSeq ?? Infinity);
    const cutoff = this.clock() - query.minAgeMs;
    const entries = this.store
      .timeline(query.afterSeq, Math.min(HISTORY_PAGE, Math.max(0, sent - query.afterSeq)))
      .filter((e) => e.seq <= sent && e.serverTimestamp <= cutoff);
    if (entries.length === 0) return [];
    const { state, lastSeq } = this.current;
    return historyMessages(this.store, state, lastSeq, this.desk.length, entries);
  }

  /** Records that a webhook was given up on (the webhook consumer), in the timeline and so in the history. */
  /**
   * Records that a webhook was given up on (by the webhook consumer), in the
   * timeline and so in the history; once per event and target, however often
   * the consumer's message is delivered. `attempts` is null when unknown (a
   * message its consumer kept failing on).
   */
  recordDeadLetter(d: {
    eventId: string;
    eventSeq: number;
    url: string;
    attempts: number | null;
    error: string;
  }): void {
    if (!this.current) return;
    const key = `deadletter:${d.eventId}:${d.url}`;
    if (this.store.findReply(key)) return;
    const gaveUp = d.attempts === null ? "gave up" : `gave up after ${d.attempts} attempts`;
    const detail = {
      event_id: d.eventId,
      event_seq: d.eventSeq,
      url: d.url,
      attempts: d.attempts,
      last_error: d.error,
    };
    this.recordNote("webhook.dead_letter", `${gaveUp}: ${d.error}`, detail, key);
  }

  // ---- background work -----------------------------------------------------

  /**
   * The durable wake-up: expires due holds, notifies the waiting list and
   * drains whatever a timer did not (after an eviction or a failure). Alarms
   * may fire more than once: every step is idempotent.
   */
  override async alarm(): Promise<void> {
    countUsage("doRequests");
    this.alarmAt = null;
    if (!this.current) return;
    this.processDue(true);
    this.inAlarm = true;
    try {
      await this.drainer.drain();
    } finally {
      this.inAlarm = false;
    }
  }

  /** One round of outbox work: the history and webhook queues, and KV (see alarm.ts). */
  private drainRound(): Promise<void> {
    return runOutboxRound({
      store: this.store,
      settings: config(this.env),
      bindings: this.bindings,
      clock: this.clock,
      current: () => this.current,
      outbox: this.outboxCursors(),
      transaction: (fn) => this.ctx.storage.transactionSync(fn),
      saveOutbox: (now) => this.saveOutbox(now),
      waitingListLength: () => this.desk.length,
      wakeAt: (at) => this.wakeAt(at),
    });
  }

  /** Somebody reads this resource's availability: its commits refresh KV for `seconds`. */
  private markRead(seconds: number): void {
    this.outboxCursors().kvReadUntil = Date.now() + seconds * 1000;
    this.outboxUnsaved = true;
  }

  private outboxCursors(): OutboxState {
    this.outbox ??= this.store.outboxState();
    return this.outbox;
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
    this.store.saveOutboxState(this.outboxCursors());
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
    if (this.nextExpiry !== null) this.scheduleAlarm(this.nextExpiry);
  }

  /**
   * Quiet with nothing left to drain (drainer.ts): records the cursors and
   * moves the alarm to the next hold expiry, or drops it, in one write.
   */
  private settle(): void {
    if (!this.current || !this.outboxCaughtUp()) return;
    const wanted = this.nextExpiry;
    if (this.alarmAt === wanted && !this.outboxUnsaved) return;
    try {
      this.ctx.storage.transactionSync(() => {
        if (this.outboxUnsaved) this.store.saveOutboxState(this.outboxCursors());
        if (wanted === null) void this.ctx.storage.deleteAlarm();
        else void this.ctx.storage.setAlarm(wanted);
        countUsage("alarms");
      });
    } catch (err) {
      logWarn("settling failed; the backstop alarm stays", this.current.state.id, err);
      return;
    }
    this.outboxUnsaved = false;
    this.alarmAt = wanted;
  }

  /** Sets the alarm to fire at `at` unless one is already due sooner. */
  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
    countUsage("alarms");
  }

  /** Records a decision that does not come from a client, e.g. a dead-lettered webhook. */
  private recordNote(type: string, reason: string, detail: Record<string, Json>, onceKey?: string): void {
    this.transact(() => {
      const current = this.working as Sequenced;
      const now = this.serverTime(current);
      const decision: Decision = { outcome: "ACCEPTED", reason, state: current.state };
      const cause: Cause = { type, requestId: "system", detail };
      const reply = { status: 200, headers: {}, body: "" };
      // Under `onceKey` (like an Idempotency-Key), so a repeated note is recognised and not recorded twice.
      const once = onceKey === undefined ? undefined : { key: onceKey, fingerprint: "", ...reply };
      this.record(decided(current, decision, current.lastSeq + 1, now, cause, reply), once);
    });
  }

  // ---- the commit pipeline -------------------------------------------------

  /**
   * Queues a command for the next group (group-commit.ts); see `decideCommand`.
   */
  private commit(
    caller: Caller,
    run: (current: Sequenced) => Decided | Reply,
    { needsResource } = { needsResource: true },
  ): Promise<CommandReply> {
    return this.groupCommit.submit(() => this.decideCommand(caller, run, needsResource));
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
  private decideCommand(
    caller: Caller,
    run: (current: Sequenced) => Decided | Reply,
    needsResource: boolean,
  ): CommandReply {
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

  private reservationCommand(
    action: ReservationAction,
    input: Caller & { reservationId: string },
  ): Promise<CommandReply> {
    return this.commit(input, (current) => {
      const found = this.store.getReservation(input.reservationId, current.state.id);
      if (!found) return errorReply("NOT_FOUND", "Reservation not found.", input.requestId);
      const { decision, seq, now } = this.decideNext(current, { type: "reservation", action, reservation: found });
      const cause: Cause = {
        type: `reservation.${action}`,
        requestId: input.requestId,
        clientId: found.clientId,
        quantity: found.quantity,
        detail: { reservation_id: found.id, status: found.status },
      };
      if (decision.outcome === "REJECTED") {
        return decided(current, decision, seq, now, cause, refusalReply(decision.code, input.requestId));
      }
      const after = decision.reservationStatus
        ? this.moveReservation(found, decision.reservationStatus, now, seq)
        : found;
      cause.detail = { reservation_id: found.id, status: after.status };
      const reply: Reply = { status: 200, headers: {}, body: JSON.stringify(reservationJson(after)) };
      return decided(current, decision, seq, now, cause, reply);
    });
  }

  private moveReservation(r: Reservation, status: Reservation["status"], now: number, seq: number): Reservation {
    this.store.setStatus(r.id, status, now, seq);
    if (r.status === "HELD") this.nextExpiry = this.nextDue();
    return withStatus(r, status, now);
  }

  private adminDecided(
    current: Sequenced,
    decision: Decision,
    seq: number,
    now: number,
    type: string,
    caller: Caller,
  ): Decided {
    const before = resourceJson(current.state);
    const after = resourceJson(decision.state);
    const detail = { actor: caller.actor ?? null, route: caller.route ?? null, before, after };
    const cause: Cause = { type, requestId: caller.requestId, detail };
    const reply =
      decision.outcome === "REJECTED"
        ? refusalReply(decision.code, caller.requestId)
        : this.resourceReply(decision.state, 200);
    return { ...decided(current, decision, seq, now, cause, reply), write: "whole" };
  }

  /** Decides a command at the next `server_seq`, at the server time. */
  private decideNext(current: Sequenced, command: Command) {
    const now = this.serverTime(current);
    return { decision: decide(current.state, command, now), seq: current.lastSeq + 1, now };
  }

  /**
   * The time of the next decision. Wall clocks can step back; server_timestamp
   * must not, or replaying the timeline in server_seq order could see time run
   * backwards.
   */
  private serverTime(current: Sequenced): number {
    return Math.max(this.clock(), current.lastTimestamp);
  }

  /** Writes a decision inside the running transaction and moves the working state on. */
  private record(d: Decided, remembered?: Parameters<ResourceStore["appendTimeline"]>[1]): void {
    this.store.appendTimeline(d.entry, remembered);
    this.unlogged.push(d.entry);
    if (d.write === "whole") this.store.saveResource(d.next);
    else this.store.saveCounters(d.next);
    this.working = d.next;
  }

  /**
   * A unit of work: decisions made inside chain on `working`, which becomes
   * `current` only once the transaction has committed. If anything throws,
   * SQLite rolls back and the in-memory view is rebuilt from storage.
   */
  private transact<T>(fn: () => T): T {
    this.working = this.current;
    this.unlogged = [];
    const [alarmAt, outboxUnsaved] = [this.alarmAt, this.outboxUnsaved];
    let result: T;
    try {
      result = this.ctx.storage.transactionSync(() => {
        const value = fn();
        if (this.working !== this.current) {
          // The backstop alarm and the drain's cursors join this commit rather than making their own.
          this.scheduleAlarm(Date.now() + BACKSTOP_MS);
          if (this.outboxUnsaved) this.saveOutbox(true);
        }
        return value;
      });
    } catch (err) {
      // The alarm and cursor writes rolled back with the rest.
      [this.alarmAt, this.outboxUnsaved] = [alarmAt, outboxUnsaved];
      this.loadDerived();
      throw err;
    }
    // Only decisions that committed are logged: a rolled-back group is decided again.
    for (const entry of this.unlogged) logDecision(this.working?.state.id ?? "", entry);
    this.unlogged = [];
    if (this.working !== this.current) this.drainer.drainAt(Date.now() + DRAIN_DELAY_MS);
    this.current = this.working;
    return result;
  }

  /** Runs due work (hold expiry, notifications) now if a read or alarm finds some. */
  private processDue(always = false): void {
    if (!this.current) return;
    if (always || (this.nextExpiry !== null && this.clock() >= this.nextExpiry)) {
      this.transact(() => {
        this.expireDue();
        this.notifyWaiting();
      });
    }
  }

  /**
   * Expires every hold whose `expires_at` has passed, each as its own
   * decision. All of them, however many, within this transaction: a decision
   * made on a partly expired wave would refuse places that are free by server
   * time, and a later request could then win them (first come, first served).
   */
  private expireDue(): void {
    const current = this.working;
    if (!current || this.nextExpiry === null) return;
    const now = this.serverTime(current);
    if (now < this.nextExpiry) return;
    let batch: { id: string }[];
    do {
      // Each expired hold leaves the HELD index, so the next read starts after it.
      batch = this.store.dueHolds(now, EXPIRY_BATCH);
      for (const hold of batch) this.expireHold(hold.id, now);
    } while (batch.length === EXPIRY_BATCH);
    // Offers lapse the same way, exactly by server time; `notifyWaiting` then offers their places again.
    this.desk.lapse(
      () => this.working as Sequenced,
      now,
      (d) => this.record(d),
    );
    this.nextExpiry = this.nextDue();
  }

  /** Earliest hold expiry or offer lapse, or null. */
  private nextDue(): number | null {
    const hold = this.store.nextHoldExpiry();
    const lapse = this.desk.nextLapse;
    return hold === null ? lapse : lapse === null ? hold : Math.min(hold, lapse);
  }

  private expireHold(id: string, now: number): void {
    const working = this.working as Sequenced;
    const found = this.store.getReservation(id, working.state.id) as Reservation;
    const { decision, seq } = this.decideNext(working, { type: "reservation", action: "expire", reservation: found });
    const status = decision.outcome === "ACCEPTED" ? (decision.reservationStatus ?? found.status) : found.status;
    if (status !== found.status) this.store.setStatus(found.id, status, now, seq);
    const cause: Cause = {
      type: "reservation.expire",
      requestId: "system",
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
    this.desk.settle(
      () => this.working as Sequenced,
      at ?? this.serverTime(working),
      (d) => this.record(d),
    );
    const lapse = this.desk.nextLapse; // a new offer: wake when it lapses
    if (lapse !== null && (this.nextExpiry === null || lapse < this.nextExpiry)) this.nextExpiry = lapse;
  }

  /** Rebuilds the in-memory views that storage already holds. */
  private loadDerived(): void {
    if (!this.current) return;
    this.desk.reload();
    this.nextExpiry = this.nextDue();
  }

  private resourceReply(state: ResourceState, status: 200 | 201): Reply {
    const headers: Record<string, string> = { ETag: `"${state.version}"` };
    if (status === 201) headers.Location = `/resources/${state.id}`;
    return { status, headers, body: JSON.stringify(resourceJson(state, this.desk.length)) };
  }
}
