/**
 * The resource and its reservations inside a Resource object: create,
 * reserve, confirm, cancel, check in, and the admin changes (update, close,
 * reopen). Each builds the `Decided` of its command against the state it
 * meets and the server time it is given, inside the object's running
 * transaction (ledger.ts records it), as waiting-desk.ts does for the waiting
 * list. The rules are in domain/resource.ts; this stores the reservation rows
 * and renders the replies.
 */
import { newReservationId } from "../domain/ids";
import type { Json } from "../domain/json";
import { type Reservation, type ReservationAction, withStatus } from "../domain/reservation";
import {
  type Command,
  createResource,
  type Decision,
  decide,
  hasRulesOf,
  type ResourceState,
  type RulesPatch,
} from "../domain/resource";
import type { TimelineEntry } from "../domain/timeline";
import { errorReply, type Reply, refusalReply, reservationJson, resourceJson } from "../wire/render";
import { type Caller, type Cause, type CreateInput, type Decided, decided, type ReserveInput } from "./commands";
import type { OrderDesk } from "./order-desk";
import type { ResourceStore, Sequenced } from "./store";
import type { WaitingDesk } from "./waiting-desk";

/** Who wakes the object for hold expiry (ledger.ts). */
export interface HoldWatch {
  /** A hold was placed: the object wakes for its expiry. */
  holdPlaced(expiresAt: number): void;
  /** A hold left HELD before it expired: the next due time is looked up again. */
  holdLeft(): void;
}

export class ReservationDesk {
  constructor(
    private readonly store: ResourceStore,
    private readonly waitingList: WaitingDesk,
    private readonly holds: HoldWatch,
    private readonly orders: OrderDesk,
  ) {}

  /**
   * Creates the resource at seq 1; 409 RESOURCE_EXISTS when `working` already holds one, except for an
   * import (`ifExists: "compare"`), which hears `200` when the resource already has the spec's rules.
   */
  create(working: Sequenced | null, input: CreateInput, now: number): Decided | Reply {
    if (working && input.ifExists === "compare" && hasRulesOf(working.state, input.spec)) {
      return this.resourceReply(working.state, 200);
    }
    if (working) return errorReply("RESOURCE_EXISTS", "A resource with this id exists.", input.requestId);
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
  }

  reserve(current: Sequenced, input: ReserveInput, now: number): Decided {
    const { quantity, hold, clientId } = input;
    const { decision, seq } = decideNext(current, { type: "reserve", quantity, hold }, now);
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
      status: decision.reservationStatus as Reservation["status"],
      serverTimestamp: now,
      serverSeq: seq,
      expiresAt: decision.expiresAt ?? null,
      rulesVersion: current.state.rulesVersion,
      metadata: input.metadata,
      cancelledAt: null,
      expiredAt: null,
      checkedInAt: null,
      orderId: null,
    };
    this.store.insertReservation(reservation);
    if (reservation.expiresAt !== null) this.holds.holdPlaced(reservation.expiresAt);
    this.waitingList.fulfil(clientId, now);
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
  }

  /** Confirm, cancel or check in a reservation of this resource; 404 for an id it does not know. */
  act(
    action: ReservationAction,
    current: Sequenced,
    input: Caller & { reservationId: string },
    now: number,
  ): Decided | Reply {
    const found = this.store.getReservation(input.reservationId, current.state.id);
    if (!found) return errorReply("NOT_FOUND", "Reservation not found.", input.requestId);
    // An order's item: its order decides (nothing is recorded: the request never reached the rules).
    const byOrder = this.orders.refusalFor(found, action);
    if (byOrder) return errorReply("INVALID_STATE", `This reservation is ${byOrder}.`, input.requestId);
    const { decision, seq } = decideNext(current, { type: "reservation", action, reservation: found }, now);
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
  }

  /** PATCH: changes rules and metadata. `ifMatch` is the version the caller saw (412 when stale). */
  update(current: Sequenced, input: Caller & { patch: RulesPatch; ifMatch?: number }, now: number): Decided | Reply {
    if (input.ifMatch !== undefined && input.ifMatch !== current.state.version) {
      return errorReply("PRECONDITION_FAILED", "The resource changed since that version.", input.requestId);
    }
    return this.admin(current, { type: "update", patch: input.patch }, now, "resource.update", input);
  }

  close(current: Sequenced, input: Caller, now: number): Decided {
    return this.admin(current, { type: "close" }, now, "resource.close", input);
  }

  reopen(current: Sequenced, input: Caller, now: number): Decided {
    return this.admin(current, { type: "reopen" }, now, "resource.reopen", input);
  }

  private moveReservation(r: Reservation, status: Reservation["status"], now: number, seq: number): Reservation {
    this.store.setStatus(r.id, status, now, seq);
    if (r.status === "HELD") this.holds.holdLeft();
    return withStatus(r, status, now);
  }

  /** An admin change: the whole resource row is written, and the audit trail gets it before and after. */
  private admin(current: Sequenced, command: Command, now: number, type: string, caller: Caller): Decided {
    const { decision, seq } = decideNext(current, command, now);
    const before = resourceJson(current.state);
    const after = resourceJson(decision.state);
    const detail: Record<string, Json> = { actor: caller.actor ?? null, route: caller.route ?? null, before, after };
    // What was asked, as the rules took it: a replay decides the update again from it (past-states.ts).
    if (command.type === "update") detail.patch = command.patch as Record<string, Json>;
    const cause: Cause = { type, requestId: caller.requestId, detail };
    const reply =
      decision.outcome === "REJECTED"
        ? refusalReply(decision.code, caller.requestId)
        : this.resourceReply(decision.state, 200);
    return { ...decided(current, decision, seq, now, cause, reply), write: "whole" };
  }

  private resourceReply(state: ResourceState, status: 200 | 201): Reply {
    const headers: Record<string, string> = { ETag: `"${state.version}"` };
    if (status === 201) headers.Location = `/resources/${state.id}`;
    return { status, headers, body: JSON.stringify(resourceJson(state, this.waitingList.length)) };
  }
}

/** Decides a command at the next `server_seq`, at the server time `now`. */
function decideNext(current: Sequenced, command: Command, now: number): { decision: Decision; seq: number } {
  return { decision: decide(current.state, command, now), seq: current.lastSeq + 1 };
}
