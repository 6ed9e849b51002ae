/**
 * What the Resource object's commands take and give, and the pure steps of
 * turning a decision into a timeline entry. The object (resource-object.ts,
 * ledger.ts) sequences and stores; nothing here touches storage.
 */
import type { Json } from "../domain/json";
import type { Decision, ResourceSpec } from "../domain/resource";
import type { RecordedEntry, TimelineEntry } from "../domain/timeline";
import { errorReply, type Reply } from "../wire/render";
import type { Sequenced } from "./store";

/** An `Idempotency-Key`, already scoped by the caller, and the fingerprint of its request. */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

/** Who asked and under which request: recorded with every decision. */
export interface Caller {
  requestId: string;
  /**
   * When the Worker received the request (epoch ms). The object's clock at
   * the decision minus this is the commit's duration as far as workerd can
   * measure it: the Worker's checks (key, validation), routing, waiting
   * behind other commits, deciding. Clock skew between the Worker's machine
   * and the object's is clamped at 0.
   */
  receivedAt?: number;
  /** The API key's id (or "admin" for the bootstrap key), for the audit trail. */
  actor?: string;
  /** "METHOD /path/{param}" of the request, for the audit trail. */
  route?: string;
  idempotency?: Idempotency;
}

export interface CreateInput extends Caller {
  spec: ResourceSpec;
  /** An import's create: an existing resource with the same rules answers `200` ("unchanged"), not 409. */
  ifExists?: "compare";
}

export interface ReserveInput extends Caller {
  clientId: string;
  quantity: number;
  hold: boolean;
  metadata: Record<string, Json>;
}

export interface JoinInput extends Caller {
  clientId: string;
  quantity: number;
  callbackUrl: string | null;
}

/** A reply for a command; `replayed` when it is the stored first answer to an idempotent retry. */
export interface CommandReply extends Reply {
  replayed: boolean;
}

export interface TimelinePage {
  items: RecordedEntry[];
  nextAfterSeq: number | null;
}

/** Why a decision was made: the request that caused it and who asked, for the timeline. */
export interface Cause {
  type: string;
  requestId: string;
  clientId?: string | null;
  quantity?: number | null;
  detail?: Record<string, Json>;
}

/** A decided command, ready to be recorded: its timeline entry, the new state and the reply. */
export interface Decided {
  entry: TimelineEntry;
  next: Sequenced;
  reply: Reply;
  /** Which part of the resource row changed: just the counters (the hot path) or more. */
  write: "counters" | "whole";
}

/** The timeline entry of a decision (rejections included, with the exact reason) and the new state. */
export function decided(
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
    latencyMs: null,
  };
  const next: Sequenced = { state: decision.state, lastSeq: seq, lastTimestamp: now };
  return { entry, next, reply, write: "counters" };
}

/** One JSON line per decision, with the exact reason; the request id ties it to the request's own line. */
export function logDecision(resourceId: string, e: TimelineEntry): void {
  console.log(
    JSON.stringify({
      level: e.outcome === "REJECTED" ? "warn" : "info",
      msg: "decision",
      request_id: e.requestId,
      resource_id: resourceId,
      server_seq: e.seq,
      type: e.type,
      outcome: e.outcome,
      code: e.code,
      reason: e.reason,
    }),
  );
}

export function notFound(requestId: string): Reply {
  return errorReply("NOT_FOUND", "Resource not found.", requestId);
}

/** A webhook the webhook consumer gave up on (`attempts` null when unknown). */
export interface DeadLetter {
  eventId: string;
  eventSeq: number;
  url: string;
  attempts: number | null;
  error: string;
}

/** The timeline note of a dead letter, recorded once per event and target (ledger.ts `recordNote`). */
export function deadLetterNote(
  d: DeadLetter,
): [type: string, reason: string, detail: Record<string, Json>, key: string] {
  const gaveUp = d.attempts === null ? "gave up" : `gave up after ${d.attempts} attempts`;
  const detail = { event_id: d.eventId, event_seq: d.eventSeq, url: d.url, attempts: d.attempts, last_error: d.error };
  return ["webhook.dead_letter", `${gaveUp}: ${d.error}`, detail, `deadletter:${d.eventId}:${d.url}`];
}
