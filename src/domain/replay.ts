/**
 * A resource's state as of any decision, rebuilt from its timeline by the
 * same `decide` that made the decisions: no second copy of the rules. Each
 * recorded decision is decided again and its outcome, code, exact reason,
 * version and rules version compared with the record, so a replay that ends
 * without disagreements is a proof that the timeline explains the state.
 */
import { holdsPlaces, type ReservationAction, type ReservationRef, type ReservationStatus } from "./reservation";
import { type Command, createResource, type Decision, decide, type ResourceSpec, type ResourceState } from "./resource";

/** A reservation that holds places: HELD, CONFIRMED or CHECKED_IN. */
export interface Holder {
  id: string;
  clientId: string;
  quantity: number;
  status: ReservationStatus;
  expiresAt: number | null;
}

/** A resource as it stood right after decision `seq` (null before it was created). */
export interface PastState {
  seq: number;
  /** The server time of decision `seq`. */
  at: number;
  resource: ResourceState | null;
  /** The reservations holding places then, oldest first. */
  holders: Holder[];
}

/** What a recorded decision asked the rules, read from its timeline entry (resource-object/past-states.ts). */
export type Step =
  | { kind: "create"; spec: ResourceSpec }
  | { kind: "reserve"; quantity: number; hold: boolean; clientId: string; reservationId: string | null }
  | { kind: "act"; action: ReservationAction; reservationId: string }
  | { kind: "rules"; command: Command }
  /** Waiting-list moves and notes: the resource's state does not change. */
  | { kind: "none" };

/** A decision as the timeline recorded it. */
export interface RecordedDecision {
  seq: number;
  at: number;
  step: Step;
  outcome: "ACCEPTED" | "REJECTED";
  code: string | null;
  reason: string;
  versionAfter: number;
  rulesVersion: number;
}

/** Where deciding again gave another answer than the record. */
export interface Disagreement {
  seq: number;
  field: string;
  recorded: string | number | null;
  replayed: string | number | null;
}

/** A replay's answer: the state, and where deciding again disagreed with the record (none, for a sound timeline). */
export interface Replayed {
  state: PastState;
  /** The snapshot it started from (0: the beginning). */
  fromSeq: number;
  disagreements: Disagreement[];
}

/** A reservation that no longer held places when the replay started (so it never will again), by id. */
export type LookUpReleased = (id: string) => (ReservationRef & { clientId: string }) | null;

export class Replay {
  private resource: ResourceState | null;
  private readonly holders: Map<string, Holder>;
  private seq: number;
  private at: number;
  readonly disagreements: Disagreement[] = [];

  constructor(
    from: PastState,
    private readonly released: LookUpReleased,
  ) {
    this.resource = from.resource;
    this.holders = new Map(from.holders.map((h) => [h.id, h]));
    this.seq = from.seq;
    this.at = from.at;
  }

  get state(): PastState {
    return { seq: this.seq, at: this.at, resource: this.resource, holders: [...this.holders.values()] };
  }

  /** Decides `d` again on the state so far and moves on to the state after it. */
  apply(d: RecordedDecision): void {
    const decision = this.decideAgain(d);
    if (decision) {
      this.compare(d, decision);
      this.resource = decision.state;
    }
    this.seq = d.seq;
    this.at = d.at;
  }

  private decideAgain(d: RecordedDecision): Decision | null {
    const { step } = d;
    if (step.kind === "create") {
      return { outcome: "ACCEPTED", reason: d.reason, state: createResource(step.spec, d.at) };
    }
    const s = this.resource;
    if (!s) {
      this.disagree(d.seq, "resource", "exists", "not created yet");
      return null;
    }
    switch (step.kind) {
      case "none":
        if (d.versionAfter !== s.version) this.disagree(d.seq, "version_after", d.versionAfter, s.version);
        return null;
      case "rules":
        return decide(s, step.command, d.at);
      case "reserve": {
        const decision = decide(s, { type: "reserve", quantity: step.quantity, hold: step.hold }, d.at);
        if (decision.outcome === "ACCEPTED") {
          const { reservationId: id, clientId, quantity } = step;
          if (id === null) {
            this.disagree(d.seq, "reservation_id", null, "an accepted reservation has one");
            return decision;
          }
          const status = decision.reservationStatus as ReservationStatus;
          this.holders.set(id, { id, clientId, quantity, status, expiresAt: decision.expiresAt ?? null });
        }
        return decision;
      }
      case "act":
        return this.act(d, step.action, step.reservationId, s);
    }
  }

  private act(d: RecordedDecision, action: ReservationAction, id: string, s: ResourceState): Decision | null {
    const holder = this.holders.get(id);
    const ref = holder ?? this.released(id);
    if (!ref) {
      this.disagree(d.seq, "reservation", id, "unknown");
      return null;
    }
    if (!holder && holdsPlaces(ref.status)) {
      this.disagree(d.seq, "reservation", `${id} holding places`, "not among the holders");
    }
    const decision = decide(s, { type: "reservation", action, reservation: ref }, d.at);
    const to = decision.outcome === "ACCEPTED" ? decision.reservationStatus : undefined;
    if (holder && to !== undefined) {
      if (holdsPlaces(to)) this.holders.set(id, { ...holder, status: to });
      else this.holders.delete(id);
    }
    return decision;
  }

  private compare(d: RecordedDecision, decision: Decision): void {
    const code = decision.outcome === "REJECTED" ? decision.code : null;
    const pairs: [string, string | number | null, string | number | null][] = [
      ["outcome", d.outcome, decision.outcome],
      ["code", d.code, code],
      ["reason", d.reason, decision.reason],
      ["version_after", d.versionAfter, decision.state.version],
      ["rules_version", d.rulesVersion, decision.state.rulesVersion],
    ];
    for (const [field, recorded, replayed] of pairs) {
      if (recorded !== replayed) this.disagree(d.seq, field, recorded, replayed);
    }
  }

  private disagree(seq: number, field: string, recorded: Disagreement["recorded"], replayed: Disagreement["replayed"]) {
    this.disagreements.push({ seq, field, recorded, replayed });
  }
}

/** The state before the first decision. */
export const BEFORE_CREATION: PastState = { seq: 0, at: 0, resource: null, holders: [] };
