import type { RefusalCode } from "./errors";
import type { Json } from "./json";
import {
  capacityDelta,
  type ReservationAction,
  type ReservationRef,
  type ReservationStatus,
  transition,
} from "./reservation";

/** Json lives in json.ts (reservation.ts needs it too); re-exported for the modules that still import it from here. */
export type { Json } from "./json";

/** What an operator supplies to create a resource (already validated). A type, not an interface, so it is a `Json` value. */
export type ResourceSpec = {
  id: string;
  type: string;
  capacity: number;
  waitingListEnabled: boolean;
  bookingOpensAt: number | null;
  bookingClosesAt: number | null;
  maxQuantityPerReservation: number | null;
  holdTtlSeconds: number;
  /** How long a waiting-list offer lasts before it lapses (domain/waiting-list.ts). */
  waitingListOfferTtlSeconds: number;
  metadata: Record<string, Json>;
};

/**
 * A resource's authoritative state and rules. Pure data: times are epoch
 * milliseconds, nothing here knows about HTTP, SQLite or Cloudflare.
 */
export type ResourceState = ResourceSpec & {
  state: "OPEN" | "CLOSED";
  confirmed: number;
  held: number;
  /** Increases on every change of state (commit, cancel, expiry, admin change). */
  version: number;
  /** Increases only when a rule (capacity, window, waiting list and its offer TTL, max quantity, hold TTL) changes. */
  rulesVersion: number;
  createdAt: number;
  updatedAt: number;
};

/** The rules an operator may change (PATCH); every field optional. */
export type RulesPatch = Partial<
  Pick<
    ResourceState,
    | "type"
    | "capacity"
    | "waitingListEnabled"
    | "bookingOpensAt"
    | "bookingClosesAt"
    | "maxQuantityPerReservation"
    | "holdTtlSeconds"
    | "waitingListOfferTtlSeconds"
    | "metadata"
  >
>;

/** Fields of a resource whose change is a change of rules (bumps `rules_version`). */
const RULE_FIELDS = [
  "capacity",
  "waitingListEnabled",
  "bookingOpensAt",
  "bookingClosesAt",
  "maxQuantityPerReservation",
  "holdTtlSeconds",
  "waitingListOfferTtlSeconds",
] as const;

export type Command =
  | { type: "reserve"; quantity: number; hold: boolean }
  | { type: "reservation"; action: ReservationAction; reservation: ReservationRef }
  | { type: "update"; patch: RulesPatch }
  | { type: "close" }
  | { type: "reopen" };

export type Decision =
  | {
      outcome: "ACCEPTED";
      /** Exact reason, for the operator timeline. */
      reason: string;
      state: ResourceState;
      /** For an accepted hold: when it lapses (epoch ms). */
      expiresAt?: number;
      /** For an accepted reserve, the new reservation's status; for an action that moved one, its new status. */
      reservationStatus?: ReservationStatus;
    }
  | { outcome: "REJECTED"; code: RefusalCode; reason: string; state: ResourceState };

export const DEFAULT_HOLD_TTL_SECONDS = 600;

/** Whether a resource already has the type and rules of `spec` (an import of it would change nothing). */
export function hasRulesOf(s: ResourceState, spec: ResourceSpec): boolean {
  return s.type === spec.type && RULE_FIELDS.every((k) => s[k] === spec[k]);
}

export function createResource(spec: ResourceSpec, now: number): ResourceState {
  return {
    ...spec,
    state: "OPEN",
    confirmed: 0,
    held: 0,
    version: 1,
    rulesVersion: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/** Capacity not yet taken by confirmed or held reservations; never negative. */
export function remaining(s: ResourceState): number {
  return Math.max(0, s.capacity - s.confirmed - s.held);
}

/**
 * The only place that knows the booking rules: given the current state, a
 * command and the server's clock, say what happens and why. Never throws for
 * a refusal; a refusal leaves the state untouched.
 */
export function decide(s: ResourceState, command: Command, now: number): Decision {
  switch (command.type) {
    case "reserve":
      return decideReserve(s, command.quantity, command.hold, now);
    case "reservation":
      return decideReservation(s, command.action, command.reservation, now);
    case "update":
      return decideUpdate(s, command.patch, now);
    case "close":
      if (s.state === "CLOSED") return { outcome: "ACCEPTED", reason: "already closed", state: s };
      return { outcome: "ACCEPTED", reason: "closed", state: changed(s, { state: "CLOSED" }, now) };
    case "reopen":
      if (s.state === "OPEN") return { outcome: "ACCEPTED", reason: "already open", state: s };
      return { outcome: "ACCEPTED", reason: "reopened", state: changed(s, { state: "OPEN" }, now) };
  }
}

function decideReserve(s: ResourceState, quantity: number, hold: boolean, now: number): Decision {
  const refuse = (code: RefusalCode, reason: string): Decision => ({
    outcome: "REJECTED",
    code,
    reason,
    state: s,
  });
  if (s.state === "CLOSED") return refuse("RESOURCE_CLOSED", "resource is closed");
  if (s.bookingOpensAt !== null && now < s.bookingOpensAt) {
    return refuse("RESOURCE_CLOSED", `booking window opens at ${iso(s.bookingOpensAt)}`);
  }
  if (s.bookingClosesAt !== null && now >= s.bookingClosesAt) {
    return refuse("RESOURCE_CLOSED", `booking window closed at ${iso(s.bookingClosesAt)}`);
  }
  if (s.maxQuantityPerReservation !== null && quantity > s.maxQuantityPerReservation) {
    return refuse(
      "INVALID_STATE",
      `quantity ${quantity} exceeds max_quantity_per_reservation ${s.maxQuantityPerReservation}`,
    );
  }
  const left = remaining(s);
  if (quantity > left) return refuse("RESOURCE_FULL", `requested ${quantity}, remaining ${left}`);

  const taken = hold ? { held: s.held + quantity } : { confirmed: s.confirmed + quantity };
  const state = changed(s, taken, now);
  const reason = `${hold ? "held" : "confirmed"} ${quantity}, remaining ${remaining(state)}`;
  if (!hold) return { outcome: "ACCEPTED", reason, state, reservationStatus: "CONFIRMED" };
  return { outcome: "ACCEPTED", reason, state, reservationStatus: "HELD", expiresAt: now + s.holdTtlSeconds * 1000 };
}

function decideReservation(s: ResourceState, action: ReservationAction, r: ReservationRef, now: number): Decision {
  const t = transition(r, action, now);
  if (t.kind === "refuse") return { outcome: "REJECTED", code: "INVALID_STATE", reason: t.reason, state: s };
  if (t.kind === "unchanged") return { outcome: "ACCEPTED", reason: t.reason, state: s };
  const [confirmed, held] = capacityDelta(r.status, t.to, r.quantity);
  const state = changed(s, { confirmed: s.confirmed + confirmed, held: s.held + held }, now);
  return { outcome: "ACCEPTED", reason: `${t.reason}, remaining ${remaining(state)}`, state, reservationStatus: t.to };
}

function decideUpdate(s: ResourceState, patch: RulesPatch, now: number): Decision {
  const next = { ...s, ...patch };
  const taken = s.confirmed + s.held;
  if (next.capacity < taken) {
    return {
      outcome: "REJECTED",
      code: "INVALID_STATE",
      reason: `capacity ${next.capacity} is below confirmed + held ${taken}`,
      state: s,
    };
  }
  if (next.bookingOpensAt !== null && next.bookingClosesAt !== null && next.bookingOpensAt >= next.bookingClosesAt) {
    return {
      outcome: "REJECTED",
      code: "INVALID_STATE",
      reason: "booking_opens_at must be before booking_closes_at",
      state: s,
    };
  }
  const changedFields = (Object.keys(patch) as (keyof RulesPatch)[]).filter(
    (k) => JSON.stringify(patch[k]) !== JSON.stringify(s[k as keyof ResourceState]),
  );
  if (changedFields.length === 0) return { outcome: "ACCEPTED", reason: "nothing to change", state: s };
  const rulesChanged = changedFields.some((k) => (RULE_FIELDS as readonly string[]).includes(k));
  const state = changed(s, { ...patch, rulesVersion: s.rulesVersion + (rulesChanged ? 1 : 0) }, now);
  return { outcome: "ACCEPTED", reason: `updated ${changedFields.join(", ")}`, state };
}

function changed(s: ResourceState, patch: Partial<ResourceState>, now: number): ResourceState {
  return { ...s, ...patch, version: s.version + 1, updatedAt: now };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
