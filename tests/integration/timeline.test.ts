import { describe, expect, it } from "vitest";
import {
  type Command,
  decide,
  createResource as initial,
  type ResourceSpec,
  type ResourceState,
} from "../../src/domain/resource";
import { call, createResource, reserve } from "../helpers";

interface Entry {
  seq: number;
  server_timestamp: string;
  type: string;
  quantity: number | null;
  outcome: string;
  code: string | null;
  reason: string;
  detail: Record<string, unknown>;
  version_before: number;
  version_after: number;
}

async function timeline(id: string): Promise<Entry[]> {
  const items: Entry[] = [];
  let after = 0;
  for (;;) {
    const res = await call("GET", `/admin/resources/${id}/timeline?after_seq=${after}&limit=7`);
    const page = await res.json<{ items: Entry[]; next_after_seq: number | null }>();
    items.push(...page.items);
    if (page.next_after_seq === null) return items;
    after = page.next_after_seq;
  }
}

/** What a timeline entry says was asked; the domain decides it again. */
function commandOf(e: Entry): Command {
  if (e.type === "reservation.reserve")
    return { type: "reserve", quantity: e.quantity as number, hold: e.detail.hold === true };
  if (e.type === "resource.close") return { type: "close" };
  if (e.type === "resource.reopen") return { type: "reopen" };
  throw new Error(`unknown timeline entry ${e.type}`);
}

/** Rebuilds the resource from its timeline alone and checks every recorded outcome on the way. */
function replay(entries: Entry[]): ResourceState {
  const [created, ...rest] = entries;
  expect(created?.type).toBe("resource.create");
  let state = initial(created?.detail.spec as ResourceSpec, Date.parse(created?.server_timestamp as string));
  for (const e of rest) {
    const decision = decide(state, commandOf(e), Date.parse(e.server_timestamp));
    expect({ seq: e.seq, outcome: decision.outcome, reason: decision.reason }).toEqual({
      seq: e.seq,
      outcome: e.outcome,
      reason: e.reason,
    });
    expect(decision.state.version).toBe(e.version_after);
    state = decision.state;
  }
  return state;
}

describe("timeline", () => {
  it("orders ten sequential reservations by strictly increasing server_seq and reconstructs them", async () => {
    const resource = await createResource({ capacity: 8 });
    const made = [];
    for (let i = 0; i < 10; i++) {
      const res = await reserve(resource.id as string, { client_id: `c-${i}` });
      made.push({ status: res.status, body: await res.json<Record<string, any>>() });
    }
    const accepted = made.filter((m) => m.status === 201).map((m) => m.body);
    expect(accepted).toHaveLength(8);
    for (let i = 1; i < accepted.length; i++) {
      expect(accepted[i]?.server_seq).toBeGreaterThan(accepted[i - 1]?.server_seq);
      expect(Date.parse(accepted[i]?.server_timestamp)).toBeGreaterThanOrEqual(
        Date.parse(accepted[i - 1]?.server_timestamp),
      );
    }

    const entries = await timeline(resource.id as string);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    const reserved = entries.filter((e) => e.outcome === "ACCEPTED" && e.type === "reservation.reserve");
    expect(reserved.map((e) => [e.seq, e.server_timestamp, e.detail.reservation_id])).toEqual(
      accepted.map((a) => [a.server_seq, a.server_timestamp, a.id]),
    );
    const rejected = entries.filter((e) => e.outcome === "REJECTED");
    expect(rejected.map((e) => [e.code, e.reason])).toEqual([
      ["RESOURCE_FULL", "requested 1, remaining 0"],
      ["RESOURCE_FULL", "requested 1, remaining 0"],
    ]);
  });

  it("replays to the same outcomes and final state as the Durable Object decided", async () => {
    const resource = await createResource({ capacity: 12, max_quantity_per_reservation: 4 });
    const id = resource.id as string;
    const requests: Promise<Response>[] = [];
    for (let i = 0; i < 40; i++) requests.push(reserve(id, { client_id: `c-${i}`, quantity: (i % 5) + 1 }));
    await Promise.all((await Promise.all(requests)).map((r) => r.text()));
    await call("POST", `/resources/${id}/close`);
    await (await reserve(id)).text();
    await call("POST", `/resources/${id}/reopen`);
    await call("POST", `/resources/${id}/reopen`);

    const replayed = replay(await timeline(id));
    const truth = await (await call("GET", `/resources/${id}`)).json<Record<string, unknown>>();
    expect({
      confirmed: replayed.confirmed,
      held: replayed.held,
      version: replayed.version,
      state: replayed.state,
    }).toEqual({
      confirmed: truth.confirmed,
      held: truth.held,
      version: truth.version,
      state: truth.state,
    });
  });

  it("records the request id the caller sent", async () => {
    const resource = await createResource({ capacity: 1 });
    const res = await reserve(resource.id as string, {}, { "X-Request-Id": "trace-abc.123" });
    expect(res.headers.get("X-Request-Id")).toBe("trace-abc.123");
    const entries = await timeline(resource.id as string);
    expect(entries.at(-1)).toMatchObject({ request_id: "trace-abc.123", client_id: "client-1" });
  });
});
