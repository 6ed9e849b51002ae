/**
 * JSON of the operator's views of the past (docs/api.md §Operators): timeline
 * entries, a resource's state as of a decision, and explanations.
 */
import type { Holder, Replayed } from "../domain/replay";
import type { ResourceState } from "../domain/resource";
import type { RecordedEntry } from "../domain/timeline";
import { iso, reservationJson, resourceJson } from "./render";

export function timelineItemJson(e: RecordedEntry) {
  return {
    seq: e.seq,
    server_timestamp: iso(e.serverTimestamp) as string,
    type: e.type,
    request_id: e.requestId,
    client_id: e.clientId,
    quantity: e.quantity,
    outcome: e.outcome,
    code: e.code,
    reason: e.reason,
    detail: e.detail,
    version_before: e.versionBefore,
    version_after: e.versionAfter,
    rules_version: e.rulesVersion,
    latency_ms: e.latencyMs,
    commit_group: e.commitGroup ?? null,
  };
}

/** Deciding again disagreed with the record this often at most in an answer; `disagreements_total` counts all. */
const SHOWN_DISAGREEMENTS = 20;

/** The resource as it stood right after a decision, with a page of the reservations holding places then. */
export function pastStateJson(r: Replayed, holdersTotal: number) {
  const { state } = r;
  return {
    at_seq: state.seq,
    server_timestamp: iso(state.resource ? state.at : null),
    resource: state.resource ? pastResourceJson(state.resource) : null,
    reservations: state.holders.map(holderJson),
    reservations_total: holdersTotal,
    replay: {
      from_snapshot_seq: r.fromSeq,
      decisions_replayed: state.seq - r.fromSeq,
      disagreements: r.disagreements.slice(0, SHOWN_DISAGREEMENTS),
      disagreements_total: r.disagreements.length,
    },
  };
}

/** The resource's fields as GET /resources/{id} shows them, but the waiting list's length, which is not replayed. */
function pastResourceJson(s: ResourceState) {
  const { waiting_list_length: _, ...fields } = resourceJson(s);
  return fields;
}

function holderJson(h: Holder) {
  return { id: h.id, client_id: h.clientId, quantity: h.quantity, status: h.status, expires_at: iso(h.expiresAt) };
}

/** An explanation as the object gives it (resource-object/explainer.ts). */
export interface ExplanationView {
  decision: RecordedEntry;
  before: Replayed;
  holdersBefore: number;
  view: { asOf: number; cachedUntil: number; version: number; state: "OPEN" | "CLOSED"; remaining: number } | null;
  competitors: RecordedEntry[];
  requestSeqs: number[];
  reservation?: { now: Parameters<typeof reservationJson>[0]; decisions: RecordedEntry[] };
}

export function explanationJson(resourceId: string, x: ExplanationView) {
  const group = x.decision.commitGroup ?? null;
  return {
    resource_id: resourceId,
    decision: timelineItemJson(x.decision),
    state_before: pastStateJson(x.before, x.holdersBefore),
    availability_view: x.view && {
      as_of: iso(x.view.asOf) as string,
      cached_until: iso(x.view.cachedUntil) as string,
      version: x.view.version,
      state: x.view.state,
      remaining: x.view.remaining,
    },
    competitors: x.competitors.map((e) => ({
      ...timelineItemJson(e),
      same_commit: group !== null && e.commitGroup === group,
    })),
    request_seqs: x.requestSeqs,
    ...(x.reservation && {
      reservation: reservationJson(x.reservation.now),
      reservation_decisions: x.reservation.decisions.map(timelineItemJson),
    }),
  };
}
