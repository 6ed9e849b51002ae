import { describe, expect, it } from "vitest";
import { call, createResource, reserve } from "../helpers";
import { linearize, type Op, type Timed } from "../support/linearizability";

const at = (op: Op, invokedAt: number, answeredAt: number): Timed => ({ op, invokedAt, answeredAt });

describe("the linearizability checker", () => {
  it("accepts a history with a valid order and rejects known non-linearizable ones", () => {
    const ok: Timed[] = [
      at({ kind: "reserve", quantity: 1, hold: false, result: { ok: true, id: "a" } }, 0, 5),
      at({ kind: "reserve", quantity: 1, hold: false, result: { ok: false, code: "RESOURCE_FULL" } }, 1, 6),
      at({ kind: "cancel", id: "a", result: { ok: true } }, 7, 8),
      at({ kind: "reserve", quantity: 1, hold: true, result: { ok: true, id: "b" } }, 9, 10),
    ];
    expect(linearize(ok, 1)).not.toBeNull();

    // Both got the only place.
    const twice: Timed[] = [
      at({ kind: "reserve", quantity: 1, hold: false, result: { ok: true, id: "a" } }, 0, 5),
      at({ kind: "reserve", quantity: 1, hold: false, result: { ok: true, id: "b" } }, 1, 6),
    ];
    expect(linearize(twice, 1)).toBeNull();

    // Refused as full after the only reservation had been cancelled (in real time).
    const stale: Timed[] = [
      at({ kind: "reserve", quantity: 1, hold: false, result: { ok: true, id: "a" } }, 0, 1),
      at({ kind: "cancel", id: "a", result: { ok: true } }, 2, 3),
      at({ kind: "reserve", quantity: 1, hold: false, result: { ok: false, code: "RESOURCE_FULL" } }, 4, 5),
    ];
    expect(linearize(stale, 1)).toBeNull();

    // A capacity cut below what was taken cannot have succeeded.
    const cut: Timed[] = [
      at({ kind: "reserve", quantity: 2, hold: false, result: { ok: true, id: "a" } }, 0, 1),
      at({ kind: "capacity", capacity: 1, result: { ok: true } }, 2, 3),
    ];
    expect(linearize(cut, 2)).toBeNull();
  });
});

describe("the engine under concurrent load", () => {
  it("produces histories with holds, confirms, cancels and capacity changes that linearize", async () => {
    for (let round = 0; round < 5; round++) {
      const capacity = 4;
      const resource = await createResource({ capacity });
      const id = resource.id as string;
      const history: Timed[] = [];
      const record = async (send: () => Promise<Op>) => {
        const invokedAt = Date.now();
        const op = await send();
        history.push({ op, invokedAt, answeredAt: Date.now() });
        return op;
      };
      const doReserve = (quantity: number, hold: boolean) =>
        record(async (): Promise<Op> => {
          const res = await reserve(id, { quantity, hold, client_id: `c${quantity}` });
          const body = await res.json<Record<string, any>>();
          const result =
            res.status === 201 ? { ok: true as const, id: body.id } : { ok: false as const, code: body.error.code };
          return { kind: "reserve", quantity, hold, result };
        });
      const act = (kind: "confirm" | "cancel", rid: string) =>
        record(async (): Promise<Op> => {
          const res = await call("POST", `/reservations/${rid}/${kind}`);
          await res.arrayBuffer();
          return { kind, id: rid, result: { ok: res.status === 200 } };
        });
      const setCapacity = (c: number) =>
        record(async (): Promise<Op> => {
          const res = await call("PATCH", `/resources/${id}`, { body: { capacity: c } });
          await res.arrayBuffer();
          return { kind: "capacity", capacity: c, result: { ok: res.status === 200 } };
        });

      const first = await Promise.all(Array.from({ length: 8 }, (_, i) => doReserve((i % 2) + 1, i % 3 === 0)));
      const ids = first.flatMap((op) => (op.kind === "reserve" && op.result.ok ? [op.result.id] : []));
      await Promise.all([
        ...ids.map((rid, i) => act(i % 2 ? "confirm" : "cancel", rid)),
        ...Array.from({ length: 6 }, (_, i) => doReserve((i % 2) + 1, i % 2 === 0)),
        setCapacity(3 + (round % 3)),
      ]);
      await Promise.all(Array.from({ length: 6 }, () => doReserve(1, false)));

      expect(history.length).toBeGreaterThanOrEqual(21);
      expect(linearize(history, capacity)).not.toBeNull();
    }
  });
});
