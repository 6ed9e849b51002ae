import { DurableObject } from "cloudflare:workers";
import { config } from "../config";
import { newReservationId } from "../domain/ids";
import type { Reservation } from "../domain/reservation";
import {
  type Command,
  createResource,
  type Decision,
  decide,
  type Json,
  type ResourceSpec,
  type ResourceState,
} from "../domain/resource";
import { errorReply, type Reply, refusalReply, reservationJson, resourceJson } from "../http/render";
import { type Availability, availabilityOf, putAvailability } from "../storage/availability-cache";
import { DRAIN_BATCH, drainToHistory } from "./outbox";
import { migrate, schemaVersion } from "./schema";
import { type OutboxState, ResourceStore, type Sequenced, type TimelineEntry } from "./store";

/** How soon after a commit the alarm drains the outbox: batches bursts, keeps history lag well under 2 s. */
const DRAIN_DELAY_MS = 100;
/** KV accepts at most one write per key per second. */
const KV_WRITE_INTERVAL_MS = 1000;
/** Drain batches per alarm run before yielding to a fresh alarm. */
const MAX_BATCHES_PER_ALARM = 20;

/** An `Idempotency-Key`, already scoped by the caller, and the fingerprint of its request. */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

export interface CreateInput {
  spec: ResourceSpec;
  requestId: string;
  idempotency?: Idempotency;
}

export interface ReserveInput {
  clientId: string;
  quantity: number;
  hold: boolean;
  metadata: Record<string, Json>;
  requestId: string;
  idempotency?: Idempotency;
}

/** A reply for an idempotent command; `replayed` when it is the stored first answer. */
export interface CommandReply extends Reply {
  replayed: boolean;
}

export interface TimelinePage {
  items: TimelineEntry[];
  nextAfterSeq: number | null;
}

/** Why a decision was made: the request that caused it and who asked, for the timeline. */
interface Cause {
  type: string;
  requestId: string;
  clientId?: string;
  quantity?: number;
  detail?: Record<string, Json>;
}

/** A decided command, ready to be recorded: its timeline entry, the new state and the reply. */
interface Decided {
  entry: TimelineEntry;
  next: Sequenced;
  reply: Reply;
  /** Which part of the resource row changed: just the counters (the hot path) or more. */
  write: "counters" | "whole";
}

/**
 * One resource's single source of truth. Every command runs to completion in
 * one `transactionSync` with no `await` inside: the object handles one event
 * at a time, so commits are serialized and atomic, and a crash mid-command
 * leaves nothing half-written.
 *
 * Commands answer with a rendered reply (status, headers, body), because an
 * idempotent command must store its first reply in the same transaction as
 * its decision, and replay exactly those bytes.
 */
export class ResourceObject extends DurableObject<Env> {
  /** The one clock (epoch ms). Tests replace it to move time without sleeping. */
  clock: () => number = () => Date.now();

  /** The bindings the alarm writes to; tests wrap them to inject faults. */
  bindings: { db: D1Database; kv: KVNamespace };

  private readonly store: ResourceStore;
  /** In-memory copy of the committed resource row; replaced only after a commit succeeds. */
  private current: Sequenced | null = null;
  /** An alarm is set and has not started yet: commits need not set another. */
  private alarmPending = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.bindings = { db: env.DB, kv: env.AVAILABILITY };
    this.store = new ResourceStore(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      // An object that never stored anything stays empty: probing an unknown
      // id must not leave a database behind. `create` applies the schema.
      if (schemaVersion(ctx.storage.sql) === 0) return;
      ctx.storage.transactionSync(() => migrate(ctx.storage.sql));
      this.current = this.store.loadResource();
      // Work left in the outbox by a previous life of this object (crash, eviction).
      this.alarmPending = (await ctx.storage.getAlarm()) !== null;
      if (this.current && this.outboxBehind(this.store.outboxState())) this.scheduleAlarm(0);
    });
  }

  create(input: CreateInput): CommandReply {
    // The schema must exist before the idempotency record can be looked up.
    // No await separates this from the command, so nothing can run between.
    if (!this.current) this.ctx.storage.transactionSync(() => migrate(this.ctx.storage.sql));
    return this.commit(input.idempotency, input.requestId, () => {
      if (this.current) return errorReply("RESOURCE_EXISTS", "A resource with this id exists.", input.requestId);
      const now = this.clock();
      const state = createResource(input.spec, now);
      const next: Sequenced = { state, lastSeq: 1, lastTimestamp: now };
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
        detail: { spec: input.spec },
        versionBefore: 0,
        versionAfter: state.version,
        rulesVersion: state.rulesVersion,
      };
      return { entry, next, reply: resourceReply(state, 201), write: "whole" };
    });
  }

  /** Answers without touching storage: a liveness probe and the benchmarks' RPC floor. */
  ping(): { ok: true } {
    return { ok: true };
  }

  get(): ResourceState | null {
    return this.current?.state ?? null;
  }

  /** The current availability snapshot, for a KV miss. */
  availability(): Availability | null {
    return this.current ? availabilityOf(this.current.state, this.clock()) : null;
  }

  /** How many timeline entries have not reached D1 yet. */
  outboxBacklog(): number {
    return this.current ? this.current.lastSeq - this.store.outboxState().drainedSeq : 0;
  }

  /**
   * Drains the outbox: timeline entries to D1 history, then the availability
   * snapshot to KV (at most once per second). A failure leaves the rows where
   * they are and retries with exponential backoff; commits go on meanwhile.
   * Alarms may fire more than once: every step is idempotent.
   */
  override async alarm(): Promise<void> {
    this.alarmPending = false;
    if (!this.current) return;
    const outbox = this.store.outboxState();
    let retryIn: number | null = null;
    try {
      await this.drainHistory(outbox);
      outbox.failures = 0;
    } catch (err) {
      outbox.failures += 1;
      retryIn = backoff(outbox.failures);
      logWarn("history drain failed", this.current.state.id, err, { failures: outbox.failures, retry_in_ms: retryIn });
    }
    const state = this.current.state;
    if (state.version !== outbox.kvVersion) {
      const wait = outbox.kvWrittenAt + KV_WRITE_INTERVAL_MS - Date.now();
      if (wait > 0) {
        retryIn = Math.min(retryIn ?? wait, wait);
      } else {
        try {
          await putAvailability(
            this.bindings.kv,
            availabilityOf(state, this.clock()),
            config(this.env).AVAILABILITY_TTL_SECONDS,
          );
          outbox.kvVersion = state.version;
          outbox.kvWrittenAt = Date.now();
        } catch (err) {
          retryIn = Math.min(retryIn ?? KV_WRITE_INTERVAL_MS, KV_WRITE_INTERVAL_MS);
          logWarn("availability refresh failed", state.id, err);
        }
      }
    }
    this.ctx.storage.transactionSync(() => this.store.saveOutboxState(outbox));
    if (retryIn === null && this.outboxBehind(outbox)) retryIn = DRAIN_DELAY_MS;
    if (retryIn !== null) this.scheduleAlarm(retryIn);
  }

  reserve(input: ReserveInput): CommandReply {
    return this.commit(input.idempotency, input.requestId, () => {
      const current = this.current;
      if (!current) return notFound(input.requestId);
      const { quantity, hold } = input;
      const { decision, seq, now } = this.decideNext(current, { type: "reserve", quantity, hold });
      const cause: Cause = {
        type: "reservation.reserve",
        requestId: input.requestId,
        clientId: input.clientId,
        quantity,
        detail: { hold },
      };
      if (decision.outcome === "REJECTED") {
        return this.decided(current, decision, seq, now, cause, refusalReply(decision.code, input.requestId));
      }
      const reservation: Reservation = {
        id: newReservationId(current.state.id),
        resourceId: current.state.id,
        clientId: input.clientId,
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
      return this.decided(current, decision, seq, now, cause, reply);
    });
  }

  getReservation(id: string): Reservation | null {
    if (!this.current) return null;
    return this.store.getReservation(id, this.current.state.id);
  }

  close(input: { requestId: string }): CommandReply {
    return this.adminCommand({ type: "close" }, "resource.close", input.requestId);
  }

  reopen(input: { requestId: string }): CommandReply {
    return this.adminCommand({ type: "reopen" }, "resource.reopen", input.requestId);
  }

  timeline(query: { afterSeq: number; limit: number }): TimelinePage | null {
    if (!this.current) return null;
    const items = this.store.timeline(query.afterSeq, query.limit);
    const last = items.at(-1);
    const more = last !== undefined && items.length === query.limit && last.seq < this.current.lastSeq;
    return { items, nextAfterSeq: more ? last.seq : null };
  }

  private async drainHistory(outbox: OutboxState): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES_PER_ALARM && this.current; batch++) {
      const entries = this.store.timeline(outbox.drainedSeq, DRAIN_BATCH);
      const last = entries.at(-1);
      if (!last) return;
      await drainToHistory(this.bindings.db, this.store, this.current.state, entries);
      outbox.drainedSeq = last.seq;
      this.ctx.storage.transactionSync(() => this.store.saveOutboxState(outbox));
    }
  }

  private outboxBehind(outbox: OutboxState): boolean {
    const current = this.current;
    return current !== null && (outbox.drainedSeq < current.lastSeq || outbox.kvVersion !== current.state.version);
  }

  /** Sets the alarm unless one is already pending (the pending one drains everything, or backs off). */
  private scheduleAlarm(delayMs: number): void {
    if (this.alarmPending) return;
    this.alarmPending = true;
    void this.ctx.storage.setAlarm(Date.now() + delayMs);
  }

  private adminCommand(command: Command, type: string, requestId: string): CommandReply {
    return this.commit(undefined, requestId, () => {
      const current = this.current;
      if (!current) return notFound(requestId);
      const { decision, seq, now } = this.decideNext(current, command);
      const decided = this.decided(
        current,
        decision,
        seq,
        now,
        { type, requestId },
        resourceReply(decision.state, 200),
      );
      return { ...decided, write: "whole" };
    });
  }

  /** Decides a command at the next `server_seq`, with a server time that never goes backwards. */
  private decideNext(current: Sequenced, command: Command) {
    // Wall clocks can step back; server_timestamp must not, or replaying the
    // timeline in server_seq order could see time run backwards.
    const now = Math.max(this.clock(), current.lastTimestamp);
    const seq = current.lastSeq + 1;
    return { decision: decide(current.state, command, now), seq, now };
  }

  /** The timeline entry of a decision (rejections included, with the exact reason) and the new state. */
  private decided(
    current: Sequenced,
    decision: Decision,
    seq: number,
    now: number,
    cause: Cause,
    reply: Reply,
  ): Decided {
    const entry: TimelineEntry = {
      seq,
      serverTimestamp: now,
      type: cause.type,
      requestId: cause.requestId,
      clientId: cause.clientId ?? null,
      quantity: cause.quantity ?? null,
      outcome: decision.outcome,
      code: decision.outcome === "REJECTED" ? decision.code : null,
      reason: decision.reason,
      detail: cause.detail ?? {},
      versionBefore: current.state.version,
      versionAfter: decision.state.version,
      rulesVersion: decision.state.rulesVersion,
    };
    const next: Sequenced = { state: decision.state, lastSeq: seq, lastTimestamp: now };
    return { entry, next, reply, write: "counters" };
  }

  /**
   * Runs a command in one transaction and records its decision: the timeline
   * entry, the resource row and, under an `Idempotency-Key`, the first reply in
   * that same entry. A retry with the same key and fingerprint gets the stored
   * reply, one with another fingerprint gets 422, so a key never decides twice.
   * A command answered without a decision (404, 409 RESOURCE_EXISTS) records
   * nothing: a retry gets the same answer anyway.
   */
  private commit(idempotency: Idempotency | undefined, requestId: string, run: () => Decided | Reply): CommandReply {
    const { reply, next, replayed } = this.ctx.storage.transactionSync(() => {
      const stored = idempotency ? this.store.findReply(idempotency.key) : null;
      if (stored && idempotency) {
        if (stored.fingerprint !== idempotency.fingerprint) {
          const message = "This Idempotency-Key was used with a different request.";
          return { reply: errorReply("IDEMPOTENCY_KEY_REUSED", message, requestId), replayed: false };
        }
        const { fingerprint: _, ...reply } = stored;
        return { reply, replayed: true };
      }
      const result = run();
      if (!("entry" in result)) return { reply: result, replayed: false };
      this.store.appendTimeline(result.entry, idempotency && { ...idempotency, ...result.reply });
      if (result.write === "whole") this.store.saveResource(result.next);
      else this.store.saveCounters(result.next);
      return { reply: result.reply, next: result.next, replayed: false };
    });
    if (next) {
      this.current = next;
      this.scheduleAlarm(DRAIN_DELAY_MS);
    }
    return { ...reply, replayed };
  }
}

function resourceReply(state: ResourceState, status: 200 | 201): Reply {
  const headers: Record<string, string> = { ETag: `"${state.version}"` };
  if (status === 201) headers.Location = `/resources/${state.id}`;
  return { status, headers, body: JSON.stringify(resourceJson(state)) };
}

function notFound(requestId: string): Reply {
  return errorReply("NOT_FOUND", "Resource not found.", requestId);
}

/** Exponential backoff with full jitter: up to 1 s, 2 s, 4 s … capped at 5 minutes. */
function backoff(failures: number): number {
  const ceiling = Math.min(300_000, 1000 * 2 ** (failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function logWarn(msg: string, resourceId: string, err: unknown, extra: Record<string, unknown> = {}): void {
  console.warn(JSON.stringify({ level: "warn", msg, resource_id: resourceId, error: String(err), ...extra }));
}
