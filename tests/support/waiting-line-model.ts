/**
 * A resource and its waiting list in memory, driven by the domain rules
 * exactly as the Durable Object drives them (resource-object.ts): due holds
 * expire and offers lapse first, the line is settled, the command is decided,
 * the line is settled again at the decision's time. The property tests run
 * random histories through it and check the line after every step.
 */
import { type Command, createResource, decide, type ResourceSpec, type ResourceState } from "../../src/domain/resource";
import {
  joinRefusal,
  type Line,
  lapseOffers,
  notifiedOnJoin,
  settleLine,
  type WaitingStatus,
} from "../../src/domain/waiting-list";

export interface ModelEntry {
  id: string;
  clientId: string;
  quantity: number;
  status: WaitingStatus;
  counted: number;
  lapsesAt: number | null;
}

interface ModelReservation {
  clientId: string;
  quantity: number;
  status: "HELD" | "CONFIRMED" | "CANCELLED" | "EXPIRED" | "CHECKED_IN";
  expiresAt: number | null;
}

export type Step =
  | { kind: "reserve"; client: string; quantity: number; hold: boolean }
  | { kind: "cancel"; pick: number }
  | { kind: "join"; client: string; quantity: number }
  | { kind: "leave"; pick: number }
  | {
      kind: "update";
      patch: Partial<Pick<ResourceState, "capacity" | "maxQuantityPerReservation" | "waitingListOfferTtlSeconds">>;
    }
  | { kind: "close" }
  | { kind: "reopen" };

export class WaitingLineModel {
  state: ResourceState;
  now: number;
  readonly entries: ModelEntry[] = [];
  readonly reservations: ModelReservation[] = [];
  /** The join reply's status of the last accepted join, as `notifiedOnJoin` predicted it. */
  lastJoin: { entry: ModelEntry; shownNotified: boolean } | null = null;
  private offered = 0;
  private checkedRules: number | null = null;
  private nextId = 0;

  constructor(spec: ResourceSpec, now: number) {
    this.state = createResource(spec, now);
    this.now = now;
  }

  get offeredPlaces(): number {
    return this.offered;
  }

  /** One command at `now` (which never goes backwards), as the object runs it. */
  run(step: Step, now: number): void {
    this.now = Math.max(this.now, now);
    this.lastJoin = null;
    this.expireHolds();
    lapseOffers(this.line(), this.now);
    this.settle();
    this.apply(step);
    this.settle();
  }

  private apply(step: Step): void {
    switch (step.kind) {
      case "reserve": {
        const d = this.decide({ type: "reserve", quantity: step.quantity, hold: step.hold });
        if (d.outcome !== "ACCEPTED") return;
        this.reservations.push({
          clientId: step.client,
          quantity: step.quantity,
          status: step.hold ? "HELD" : "CONFIRMED",
          expiresAt: d.expiresAt ?? null,
        });
        const notified = this.active(step.client);
        if (notified?.status === "NOTIFIED") this.close(notified, "FULFILLED");
        return;
      }
      case "cancel": {
        const live = this.reservations.filter((r) => r.status === "HELD" || r.status === "CONFIRMED");
        const r = live[step.pick % Math.max(1, live.length)];
        if (!r) return;
        const d = this.decide({ type: "reservation", action: "cancel", reservation: r });
        if (d.outcome === "ACCEPTED" && d.reservationStatus)
          r.status = d.reservationStatus as ModelReservation["status"];
        return;
      }
      case "join": {
        if (this.active(step.client) || joinRefusal(this.state, step.quantity)) return;
        const waitingAhead = this.entries.filter((e) => e.status === "WAITING").length;
        const shownNotified = notifiedOnJoin(this.state, this.offered, waitingAhead, step.quantity);
        const entry: ModelEntry = {
          id: `e${this.nextId++}`,
          clientId: step.client,
          quantity: step.quantity,
          status: "WAITING",
          counted: 0,
          lapsesAt: null,
        };
        this.entries.push(entry);
        this.lastJoin = { entry, shownNotified };
        return;
      }
      case "leave": {
        const active = this.entries.filter((e) => e.status === "WAITING" || e.status === "NOTIFIED");
        const e = active[step.pick % Math.max(1, active.length)];
        if (e) this.close(e, "LEFT");
        return;
      }
      case "update":
        this.decide({ type: "update", patch: step.patch });
        return;
      case "close":
      case "reopen":
        this.decide({ type: step.kind });
        return;
    }
  }

  private decide(command: Command) {
    const d = decide(this.state, command, this.now);
    this.state = d.state;
    return d;
  }

  private expireHolds(): void {
    for (const r of this.reservations) {
      if (r.status !== "HELD" || r.expiresAt === null || this.now < r.expiresAt) continue;
      const d = this.decide({ type: "reservation", action: "expire", reservation: r });
      if (d.outcome === "ACCEPTED" && d.reservationStatus) r.status = d.reservationStatus as ModelReservation["status"];
    }
  }

  private settle(): void {
    const rulesChanged = this.checkedRules !== this.state.rulesVersion;
    settleLine(this.line(), this.state, this.now, rulesChanged);
    this.checkedRules = this.state.rulesVersion;
  }

  private active(clientId: string): ModelEntry | undefined {
    return this.entries.find((e) => e.clientId === clientId && (e.status === "WAITING" || e.status === "NOTIFIED"));
  }

  private close(e: ModelEntry, status: "FULFILLED" | "LEFT" | "EXPIRED"): void {
    this.offered -= e.counted;
    e.counted = 0;
    e.status = status;
  }

  /** The line over the in-memory entries (join order is array order). */
  private line(): Line {
    const of = (status: WaitingStatus) => this.entries.filter((e) => e.status === status);
    const offer = (e: ModelEntry) => ({
      id: e.id,
      quantity: e.quantity,
      counted: e.counted,
      lapsesAt: e.lapsesAt as number,
    });
    const byId = (id: string) => this.entries.find((e) => e.id === id) as ModelEntry;
    const model = this;
    return {
      get waiting() {
        return of("WAITING").length;
      },
      get notified() {
        return of("NOTIFIED").length;
      },
      get offered() {
        return model.offered;
      },
      lapsedOffers: (now, limit) =>
        of("NOTIFIED")
          .filter((e) => (e.lapsesAt as number) <= now)
          .slice(0, limit)
          .map(offer),
      entriesAbove: (max, limit) =>
        this.entries
          .filter((e) => (e.status === "WAITING" || e.status === "NOTIFIED") && e.quantity > max)
          .slice(0, limit),
      countedOffers: (limit) =>
        of("NOTIFIED")
          .filter((e) => e.counted > 0)
          .slice(0, limit)
          .map(offer),
      head: (limit) => of("WAITING").slice(0, limit),
      expire: (ref) => this.close(byId(ref.id), "EXPIRED"),
      uncount: (ref, counted) => {
        const e = byId(ref.id);
        this.offered -= e.counted - counted;
        e.counted = counted;
      },
      notify: (ref, lapsesAt) => {
        const e = byId(ref.id);
        e.status = "NOTIFIED";
        e.counted = e.quantity;
        e.lapsesAt = lapsesAt;
        this.offered += e.quantity;
      },
    };
  }
}
