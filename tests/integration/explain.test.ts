/**
 * GET /admin/resources/{id}/state and the explain routes, over HTTP against
 * the real object: a 100-way race explained request by request, a resource's
 * past states against what it answered live at each step, snapshots, the
 * availability a cached read showed, and bad input.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createResource, objectOf, reserve, settle } from "../helpers";

type Body = Record<string, any>;
const json = (res: Response) => res.json<Body>();

async function explainRequest(resourceId: string, requestId: string, competitors = 20): Promise<Body> {
  const res = await call(
    "GET",
    `/admin/resources/${resourceId}/explain?request_id=${requestId}&competitors=${competitors}`,
  );
  expect(res.status).toBe(200);
  return json(res);
}

async function stateAt(resourceId: string, seq?: number, query = ""): Promise<Body> {
  const at = seq === undefined ? "" : `at_seq=${seq}&`;
  const res = await call("GET", `/admin/resources/${resourceId}/state?${at}${query}`);
  expect(res.status).toBe(200);
  return json(res);
}

describe("explaining a 100-way race for one place", () => {
  it("names the winner and gives every loser its exact reason and the state it met", async () => {
    const { id } = (await createResource({ capacity: 1 })) as { id: string };
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => reserve(id, { client_id: `racer-${i}` }, { "X-Request-Id": `race-${i}` })),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(99);
    const winnerIndex = statuses.indexOf(201);
    const winner = await json(replies[winnerIndex] as Response);

    const explained = await Promise.all(Array.from({ length: 100 }, (_, i) => explainRequest(id, `race-${i}`)));
    const byIndex = explained.map((x) => x.decision);
    const winning = byIndex[winnerIndex];
    expect(winning).toMatchObject({
      outcome: "ACCEPTED",
      reason: "confirmed 1, remaining 0",
      client_id: `racer-${winnerIndex}`,
    });
    expect(winning.detail.reservation_id).toBe(winner.id);
    expect(explained[winnerIndex]?.state_before.resource).toMatchObject({ confirmed: 0, remaining: 1 });

    const seqs = new Set(byIndex.map((d) => d.seq));
    expect(seqs.size).toBe(100); // one decision per request, each its own seq
    for (const [i, x] of explained.entries()) {
      expect(x.decision.request_id).toBe(`race-${i}`);
      expect(x.request_seqs).toEqual([x.decision.seq]);
      expect(x.state_before.at_seq).toBe(x.decision.seq - 1);
      expect(x.state_before.replay.disagreements).toEqual([]);
      // The competitors are exactly the decisions just before it, and same_commit says who shared its transaction.
      const expected = Array.from({ length: Math.min(20, x.decision.seq - 1) }, (_, k) => x.decision.seq - 1 - k);
      expect(x.competitors.map((c: Body) => c.seq)).toEqual(expected.reverse());
      for (const c of x.competitors) expect(c.same_commit).toBe(c.commit_group === x.decision.commit_group);
      if (i === winnerIndex) continue;
      expect(x.decision).toMatchObject({
        outcome: "REJECTED",
        code: "RESOURCE_FULL",
        reason: "requested 1, remaining 0",
      });
      expect(x.decision.seq).toBeGreaterThan(winning.seq);
      // The state it met: the place taken, by the winner's reservation.
      expect(x.state_before.resource).toMatchObject({ confirmed: 1, remaining: 0 });
      expect(x.state_before.reservations).toEqual([
        { id: winner.id, client_id: `racer-${winnerIndex}`, quantity: 1, status: "CONFIRMED", expires_at: null },
      ]);
    }
    // Concurrent requests were decided together: some decisions share a group commit with the one before.
    const groups = new Set(byIndex.map((d) => d.commit_group));
    expect(groups.size).toBeLessThan(100);

    const reservation = await call("GET", `/admin/reservations/${winner.id}/explain`);
    expect(reservation.status).toBe(200);
    const r = await json(reservation);
    expect(r.decision.seq).toBe(winning.seq);
    expect(r.reservation).toMatchObject({ id: winner.id, status: "CONFIRMED" });
    expect(r.reservation_decisions.map((d: Body) => d.seq)).toEqual([winning.seq]);
  });
});

describe("state as of a decision", () => {
  it("equals what the resource answered live right after each decision, reservations included", async () => {
    const { id } = (await createResource({ capacity: 4 })) as { id: string };
    const live: Body[] = [await json(await call("GET", `/resources/${id}`))];
    const hold = await json(await reserve(id, { quantity: 2, hold: true }));
    live.push(await json(await call("GET", `/resources/${id}`)));
    await reserve(id, { quantity: 3 }); // refused: 2 remain
    live.push(await json(await call("GET", `/resources/${id}`)));
    await call("POST", `/reservations/${hold.id}/confirm`);
    live.push(await json(await call("GET", `/resources/${id}`)));
    await call("PATCH", `/resources/${id}`, { body: { capacity: 6, max_quantity_per_reservation: 2 } });
    live.push(await json(await call("GET", `/resources/${id}`)));
    await call("POST", `/reservations/${hold.id}/cancel`);
    live.push(await json(await call("GET", `/resources/${id}`)));
    await call("POST", `/resources/${id}/close`);
    live.push(await json(await call("GET", `/resources/${id}`)));

    for (const [i, now] of live.entries()) {
      const past = await stateAt(id, i + 1);
      const { waiting_list_length: _, ...fields } = now;
      expect(past.resource).toEqual(fields);
      expect(past.replay).toMatchObject({ from_snapshot_seq: 0, decisions_replayed: i + 1, disagreements: [] });
    }
    expect((await stateAt(id, 2)).reservations).toEqual([
      { id: hold.id, client_id: "client-1", quantity: 2, status: "HELD", expires_at: hold.expires_at },
    ]);
    expect((await stateAt(id, 4)).reservations).toMatchObject([{ id: hold.id, status: "CONFIRMED" }]);
    expect((await stateAt(id, 6)).reservations).toEqual([]);
    // Without at_seq: now.
    expect((await stateAt(id)).at_seq).toBe(live.length);

    const explained = await json(await call("GET", `/admin/reservations/${hold.id}/explain`));
    expect(explained.decision).toMatchObject({ seq: 6, type: "reservation.cancel", reason: "cancelled, remaining 6" });
    expect(explained.reservation_decisions.map((d: Body) => d.type)).toEqual([
      "reservation.reserve",
      "reservation.confirm",
      "reservation.cancel",
    ]);
  });

  it("pages the reservations of one past state with a cursor that keeps its seq", async () => {
    const { id } = (await createResource({ capacity: 10 })) as { id: string };
    for (let i = 0; i < 5; i++) await reserve(id, { client_id: `c${i}` });
    const first = await stateAt(id, 6, "limit=2");
    expect(first.reservations.map((r: Body) => r.client_id)).toEqual(["c0", "c1"]);
    expect(first.reservations_total).toBe(5);
    await reserve(id, { client_id: "later" }); // a new decision does not move the pages of seq 6
    const second = await stateAt(id, undefined, `limit=2&cursor=${first.next_cursor}`);
    const third = await stateAt(id, undefined, `limit=2&cursor=${second.next_cursor}`);
    expect([...second.reservations, ...third.reservations].map((r: Body) => r.client_id)).toEqual(["c2", "c3", "c4"]);
    expect(third.next_cursor).toBeNull();
  });

  it("replays from a snapshot once the drain has written one, to the same state as from the beginning", async () => {
    const { id } = (await createResource({ capacity: 2000 })) as { id: string };
    for (let batch = 0; batch < 21; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => reserve(id, { client_id: `b${batch}-${i}`, hold: i % 3 === 0 })),
      );
    }
    await settle(id);
    const target = 1030;
    // The snapshot is written just after a drain round, not awaited by it.
    await expect.poll(async () => (await stateAt(id, target)).replay.from_snapshot_seq).toBe(1000);
    const past = await stateAt(id, target, "limit=1000");
    expect(past.replay).toMatchObject({ from_snapshot_seq: 1000, decisions_replayed: 30, disagreements: [] });
    const scratch = await runInDurableObject(objectOf(id), (o) =>
      (o as unknown as { pastStates: { at(seq: number, opts: object): Promise<{ state: Body }> } }).pastStates.at(
        target,
        { fromScratch: true },
      ),
    );
    expect(past.reservations_total).toBe(scratch.state.holders.length);
    expect(past.resource.confirmed + past.resource.held).toBe(target - 1);
    expect(past.reservations.map((r: Body) => r.id)).toEqual(
      scratch.state.holders.slice(0, 1000).map((h: Body) => h.id),
    );
    expect(past.resource.version).toBe(scratch.state.resource.version);
  });
});

describe("histories recorded before explanations (schema v5)", () => {
  it("replays updates without their patch from the rules they left, and marks no commit groups", async () => {
    const { id } = (await createResource({ capacity: 3 })) as { id: string };
    await reserve(id, { quantity: 2 });
    await call("PATCH", `/resources/${id}`, { body: { hold_ttl_seconds: 30, capacity: 5 } });
    await call("PATCH", `/resources/${id}`, { body: { capacity: 1 } }); // refused: 2 are taken
    await call("PATCH", `/resources/${id}`, { body: { metadata: { room: "B" } } });
    await reserve(id, { quantity: 2 }, { "X-Request-Id": "after-updates" });
    // What a v5 object recorded: no patch in an update's detail, no commit group.
    await runInDurableObject(objectOf(id), (_, state) => {
      state.storage.sql.exec("UPDATE timeline SET detail = json_remove(detail, '$.patch'), commit_group = NULL");
    });
    const timeline = await json(await call("GET", `/admin/resources/${id}/timeline`));
    expect(timeline.items.filter((e: Body) => "patch" in e.detail)).toEqual([]);

    const past = await stateAt(id);
    expect(past.replay.disagreements).toEqual([]);
    expect(past.resource).toMatchObject({ capacity: 5, hold_ttl_seconds: 30, metadata: { room: "B" }, confirmed: 4 });
    expect(past.resource.rules_version).toBe(2);
    const x = await explainRequest(id, "after-updates");
    expect(x.decision.commit_group).toBeNull();
    expect(x.competitors.every((c: Body) => c.same_commit === false)).toBe(true);
  });
});

describe("histories recorded before the offer TTL existed (schema v3)", () => {
  it("replays a create and updates that never mention it as the migration left it: the default", async () => {
    const { id } = (await createResource({ capacity: 3 })) as { id: string };
    await call("PATCH", `/resources/${id}`, { body: { capacity: 4 } });
    await reserve(id, { quantity: 1 });
    await runInDurableObject(objectOf(id), (_, state) => {
      state.storage.sql.exec(
        `UPDATE timeline SET detail = json_remove(detail, '$.patch', '$.spec.waitingListOfferTtlSeconds',
           '$.after.waiting_list_offer_ttl_seconds', '$.before.waiting_list_offer_ttl_seconds')`,
      );
    });
    const past = await stateAt(id);
    expect(past.replay.disagreements).toEqual([]);
    expect(past.resource).toMatchObject({ capacity: 4, waiting_list_offer_ttl_seconds: 900, rules_version: 2 });
  });
});

describe("request ids", () => {
  it("never takes 'system', the id of the engine's own decisions, from a client", async () => {
    const { id } = (await createResource({ capacity: 1 })) as { id: string };
    const res = await reserve(id, {}, { "X-Request-Id": "system" });
    expect(res.status).toBe(201);
    const given = res.headers.get("X-Request-Id") as string;
    expect(given).not.toBe("system");
    expect((await explainRequest(id, given)).decision).toMatchObject({ outcome: "ACCEPTED", request_id: given });
  });
});

describe("what a cached read showed", () => {
  it("explains a refusal with the availability snapshot cached reads showed at that moment", async () => {
    const { id } = (await createResource({ capacity: 2 })) as { id: string };
    const read = () => call("GET", `/availability?resource_id=${id}`, { auth: null });
    await read(); // a miss: the resource counts as read, and its object publishes a snapshot to KV
    await settle(id);
    const cached = await read();
    expect(cached.headers.get("X-Cache-Status")).toBe("HIT");
    const shown = await json(cached);
    expect(shown.remaining).toBe(2);
    await reserve(id, { client_id: "fast", quantity: 2 }, { "X-Request-Id": "fast-one" });
    const refused = await reserve(id, { client_id: "slow", quantity: 2 }, { "X-Request-Id": "slow-one" });
    expect(refused.status).toBe(409);
    const x = await explainRequest(id, "slow-one");
    expect(x.decision).toMatchObject({ code: "RESOURCE_FULL", reason: "requested 2, remaining 0" });
    // The latest snapshot handed out for caching before the decision: the one this reader got, or KV's copy of it.
    expect(x.availability_view).toMatchObject({ remaining: 2, version: shown.version });
    expect(Date.parse(x.availability_view.as_of)).toBeGreaterThanOrEqual(Date.parse(shown.as_of));
    expect(Date.parse(x.availability_view.as_of)).toBeLessThanOrEqual(Date.parse(x.decision.server_timestamp));
    expect(x.competitors.at(-1)).toMatchObject({ request_id: "fast-one", outcome: "ACCEPTED" });
  });

  it("says null when nobody read the availability", async () => {
    const { id } = (await createResource({ capacity: 1 })) as { id: string };
    await reserve(id, {}, { "X-Request-Id": "unread" });
    expect((await explainRequest(id, "unread")).availability_view).toBeNull();
  });
});

describe("bad input changes nothing and says what is wrong", () => {
  it.each([
    ["state?at_seq=0", 400],
    ["state?at_seq=abc", 400],
    ["state?at_seq=99", 404],
    ["state?limit=0", 400],
    ["state?cursor=nope", 400],
    ["state?cursor=0.0", 400],
    ["state?at_seq=1&cursor=2.0", 400],
    ["state?extra=1", 400],
    ["explain", 400],
    ["explain?request_id=a&seq=1", 400],
    ["explain?request_id=%20bad", 400],
    ["explain?seq=0", 400],
    ["explain?seq=1&competitors=101", 400],
    ["explain?seq=99", 404],
    ["explain?request_id=never-sent", 404],
  ])("GET /admin/resources/{id}/%s → %i", async (path, status) => {
    const { id } = (await createResource()) as { id: string };
    const res = await call("GET", `/admin/resources/${id}/${path}`);
    expect(res.status).toBe(status);
    const body = await json(res);
    expect(body.error.code).toBe(status === 400 ? "VALIDATION_ERROR" : "NOT_FOUND");
    expect((await json(await call("GET", `/resources/${id}`))).version).toBe(1);
  });

  it("answers 404 for unknown resources and reservations", async () => {
    for (const path of [
      "/admin/resources/nope-never-made/state",
      "/admin/resources/nope-never-made/explain?seq=1",
      "/admin/reservations/rsv_nope/explain",
      "/admin/reservations/not-a-reservation-id/explain",
    ]) {
      const res = await call("GET", path);
      expect(res.status, path).toBe(404);
      expect((await json(res)).error.code).toBe("NOT_FOUND");
    }
  });
});
