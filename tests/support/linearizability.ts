/**
 * A Wing–Gong style linearizability checker for one resource: a counter with
 * a capacity, holds, confirms, cancels and capacity changes. It searches for
 * one order of the operations that respects real time (an operation that
 * answered before another was sent comes first) and in which every observed
 * result is what a single, sequential resource would have answered.
 */
export type Op =
  | { kind: "reserve"; quantity: number; hold: boolean; result: { ok: true; id: string } | { ok: false; code: string } }
  | { kind: "confirm" | "cancel"; id: string; result: { ok: boolean } }
  | { kind: "capacity"; capacity: number; result: { ok: boolean } };

export interface Timed {
  op: Op;
  invokedAt: number;
  answeredAt: number;
}

interface Model {
  capacity: number;
  reservations: Record<string, { quantity: number; status: "HELD" | "CONFIRMED" | "CANCELLED" }>;
}

function taken(m: Model): number {
  return Object.values(m.reservations)
    .filter((r) => r.status !== "CANCELLED")
    .reduce((n, r) => n + r.quantity, 0);
}

/** The model's next state if `op` explains its observed result there, else null. */
function step(m: Model, op: Op): Model | null {
  switch (op.kind) {
    case "reserve": {
      const fits = m.capacity - taken(m) >= op.quantity;
      if (!op.result.ok) return !fits && op.result.code === "RESOURCE_FULL" ? m : null;
      if (!fits || m.reservations[op.result.id]) return null;
      const status = op.hold ? "HELD" : "CONFIRMED";
      return { ...m, reservations: { ...m.reservations, [op.result.id]: { quantity: op.quantity, status } } };
    }
    case "confirm": {
      const r = m.reservations[op.id];
      if (!r) return null;
      const allowed = r.status !== "CANCELLED";
      if (op.result.ok !== allowed) return null;
      return allowed ? { ...m, reservations: { ...m.reservations, [op.id]: { ...r, status: "CONFIRMED" } } } : m;
    }
    case "cancel": {
      const r = m.reservations[op.id];
      if (!r || !op.result.ok) return null; // cancel is allowed in every state this model reaches
      return { ...m, reservations: { ...m.reservations, [op.id]: { ...r, status: "CANCELLED" } } };
    }
    case "capacity": {
      const allowed = op.capacity >= taken(m);
      if (op.result.ok !== allowed) return null;
      return allowed ? { ...m, capacity: op.capacity } : m;
    }
  }
}

/** Returns a linearization (indices into `history`) or null when none exists. */
export function linearize(history: Timed[], capacity: number): number[] | null {
  const n = history.length;
  const seen = new Set<string>();
  const order: number[] = [];
  const done = new Array<boolean>(n).fill(false);
  const search = (m: Model): boolean => {
    if (order.length === n) return true;
    const key = `${done.map((d) => (d ? 1 : 0)).join("")}|${JSON.stringify(m)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    // Only operations sent before every pending one answered may go next.
    let horizon = Infinity;
    for (let i = 0; i < n; i++) if (!done[i]) horizon = Math.min(horizon, (history[i] as Timed).answeredAt);
    for (let i = 0; i < n; i++) {
      const t = history[i] as Timed;
      if (done[i] || t.invokedAt > horizon) continue;
      const next = step(m, t.op);
      if (!next) continue;
      done[i] = true;
      order.push(i);
      if (search(next)) return true;
      order.pop();
      done[i] = false;
    }
    return false;
  };
  return search({ capacity, reservations: {} }) ? [...order] : null;
}
