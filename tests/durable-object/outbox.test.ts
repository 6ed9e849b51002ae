import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import { availabilityKey } from "../../src/storage/availability-cache";
import type { HistoryMessage } from "../../src/storage/history-writer";
import { call, createResource, historyWritten, reserve, settle } from "../helpers";

function objectOf(id: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(id));
}

/** The real binding, wrapped: every call throws while `fault.down`, and each call of `counted` is counted. */
function wrapped<T extends object>(real: T, fault: { down: boolean; calls?: Record<string, number> }): T {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (fault.calls) fault.calls[String(prop)] = (fault.calls[String(prop)] ?? 0) + 1;
        if (fault.down) throw new Error(`${String(prop)} failed (injected)`);
        return value.apply(target, args);
      };
    },
  });
}

async function d1Count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** Runs the Worker's queue handler on `messages` as if delivered by `queue`, with `bindings` replaced. */
async function consume<T>(queue: string, messages: { body: T; attempts?: number }[], bindings: Partial<Env> = {}) {
  const batch = createMessageBatch<T>(
    queue,
    messages.map((m, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...bindings }, ctx);
  return getQueueResult(batch, ctx);
}

/**
 * A resource whose object sends its history nowhere (a queue binding that
 * accepts and drops): its rows reach D1 only through this test's own
 * `consume` calls, so what D1 holds proves what the consumer did.
 */
async function unqueued(fields: Record<string, unknown>): Promise<string> {
  const id = (await createResource(fields)).id as string;
  await settle(id); // the create's own message goes through the real queue first
  await runInDurableObject(objectOf(id), (o) => {
    o.bindings.history = { sendBatch: async () => ({}) } as unknown as Queue<HistoryMessage>;
  });
  return id;
}

/** What the object sent for its whole timeline, taken from the object itself once everything is sent. */
async function messagesOf(id: string): Promise<HistoryMessage[]> {
  return runInDurableObject(objectOf(id), async (o) => {
    while (!o.outboxCaughtUp()) await new Promise((r) => setTimeout(r, 20));
    return o.historyAfter({ afterSeq: 0, upToSeq: null, minAgeMs: 0 });
  });
}

describe("outbox to the history queue", () => {
  it("keeps committing while the queue refuses sends, then sends every decision; D1 holds each once", async () => {
    const id = (await createResource({ capacity: 1000 })).id as string;
    await settle(id);
    const fault = { down: true };
    await runInDurableObject(objectOf(id), (o) => {
      o.bindings.history = wrapped(o.bindings.history, fault);
    });

    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => reserve(id, { client_id: `c-${i}` })));
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(201));
    await new Promise((r) => setTimeout(r, 300)); // the timer drain runs and fails
    expect(await runInDurableObject(objectOf(id), (o) => o.outboxBacklog())).toBe(200);

    fault.down = false;
    await settle(id);
    expect(await d1Count("SELECT COUNT(*) AS n FROM reservations WHERE resource_id = ?", id)).toBe(200);
    expect(await d1Count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(201);
    const registry = await env.DB.prepare("SELECT confirmed, version, last_seq FROM resources WHERE id = ?")
      .bind(id)
      .first();
    expect(registry).toEqual({ confirmed: 200, version: 201, last_seq: 201 });
  });

  it("writes a batch that mixes 40 resources with one D1 batch, and a redelivery changes nothing", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await unqueued({ capacity: 5 });
      await reserve(id, { client_id: "a" });
      ids.push(id);
    }
    const inList = ids.map(() => "?").join(",");
    const reservationsInD1 = () =>
      d1Count(`SELECT COUNT(*) AS n FROM reservations WHERE resource_id IN (${inList})`, ...ids);
    expect(await reservationsInD1()).toBe(0);
    const messages = (await Promise.all(ids.map(messagesOf))).flat();
    const calls: Record<string, number> = {};
    const db = wrapped(env.DB, { down: false, calls });
    const result = await consume(
      "reservation-history",
      messages.map((body) => ({ body })),
      { DB: db },
    );
    expect(result.ackAll).toBe(true);
    expect(calls.batch).toBe(1);
    const again = await consume(
      "reservation-history",
      messages.map((body) => ({ body, attempts: 2 })),
      { DB: db },
    );
    expect(again.ackAll).toBe(true);
    expect(await d1Count(`SELECT COUNT(*) AS n FROM decision_events WHERE resource_id IN (${inList})`, ...ids)).toBe(
      80,
    );
    expect(await reservationsInD1()).toBe(40);
  });

  it("retries a batch while D1 is down, and never lets an older message roll a resource back", async () => {
    // Joins change the waiting-list length but not the version: only the decision's seq orders them.
    const id = await unqueued({ capacity: 1, waiting_list_enabled: true });
    await reserve(id, { client_id: "a" });
    await call("POST", "/waiting-list/join", { body: { resource_id: id, client_id: "w1" } });
    const [older] = await messagesOf(id);
    await call("POST", "/waiting-list/join", { body: { resource_id: id, client_id: "w2" } });
    const [newer] = await messagesOf(id);

    const down = await consume("reservation-history", [{ body: newer }], { DB: wrapped(env.DB, { down: true }) });
    expect(down.ackAll).toBe(false);
    expect(down.retryBatch).toMatchObject({ retry: true });

    await consume("reservation-history", [{ body: newer as HistoryMessage }]);
    await consume("reservation-history", [{ body: older as HistoryMessage }]); // delivered late
    const row = await env.DB.prepare("SELECT confirmed, waiting_list_length, last_seq FROM resources WHERE id = ?")
      .bind(id)
      .first();
    expect(row).toEqual({ confirmed: 1, waiting_list_length: 2, last_seq: 4 });
  });

  it("after repeated failures writes message by message, so one poisoned message cannot sink its batch", async () => {
    const id = await unqueued({ capacity: 5 });
    await reserve(id, { client_id: "a" });
    const [good] = await messagesOf(id);
    const poisoned = { resource: { id: "x" }, decisions: [{ seq: 1 }], reservations: [] } as unknown as HistoryMessage;
    const result = await consume("reservation-history", [
      { body: good as HistoryMessage, attempts: 3 },
      { body: poisoned, attempts: 3 },
    ]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m1"]);
    expect(await d1Count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(2);
  });

  it("records a dead-lettered history message where the reconciliation shows it", async () => {
    const id = await unqueued({ capacity: 5 });
    await reserve(id, { client_id: "a" });
    const [message] = await messagesOf(id);
    const result = await consume("reservation-history-dlq", [{ body: message as HistoryMessage, attempts: 11 }]);
    expect(result.ackAll).toBe(true);
    const row = await env.DB.prepare(
      "SELECT first_seq, last_seq, decisions FROM history_dead_letters WHERE resource_id = ? AND reconciled_at IS NULL",
    )
      .bind(id)
      .first();
    expect(row).toEqual({ first_seq: 1, last_seq: 2, decisions: 2 });
  });
});

describe("the reconciler", () => {
  it("repairs decisions whose history batch was dropped, counts them, and shows the run", async () => {
    const id = (await createResource({ capacity: 100 })).id as string;
    await settle(id);
    // A queue that accepts sends and loses them (as local Miniflare's does in a crash).
    const fault = { drop: true };
    await runInDurableObject(objectOf(id), (o) => {
      const real = o.bindings.history;
      o.bindings.history = {
        sendBatch: (messages: Iterable<MessageSendRequest<HistoryMessage>>) =>
          fault.drop ? Promise.resolve({}) : real.sendBatch(messages),
      } as unknown as Queue<HistoryMessage>;
    });
    for (let i = 0; i < 5; i++) expect((await reserve(id, { client_id: `lost-${i}` })).status).toBe(201);
    await runInDurableObject(objectOf(id), async (o) => {
      while (!o.outboxCaughtUp()) await new Promise((r) => setTimeout(r, 50));
    });
    fault.drop = false;
    for (let i = 0; i < 2; i++) expect((await reserve(id, { client_id: `kept-${i}` })).status).toBe(201);
    // Seqs 7 and 8 arrive; 2..6 are a gap in D1.
    await expect
      .poll(() => d1Count("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ?", id), { timeout: 10_000 })
      .toBe(3);
    expect(await d1Count("SELECT MAX(seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(8);

    const metricBefore = await gapsRepairedMetric();
    const res = await call("POST", "/admin/reconciliation", { body: { resource_ids: [id], min_age_seconds: 0 } });
    expect(res.status).toBe(200);
    const run = await res.json<Record<string, any>>();
    expect(run).toMatchObject({ status: "completed", gaps_found: 1, gaps_repaired: 1, decisions_repaired: 5 });
    expect(run.disagreements).toEqual([
      { resource_id: id, d1_last_seq: 8, missing: [{ from: 2, to: 6, repaired: 5 }] },
    ]);
    await historyWritten(id, 8);
    expect(await d1Count("SELECT COUNT(DISTINCT seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(8);
    expect(await d1Count("SELECT COUNT(*) AS n FROM reservations WHERE resource_id = ?", id)).toBe(7);
    expect(await gapsRepairedMetric()).toBe(metricBefore + 1);

    const shown = await (await call("GET", "/admin/reconciliation")).json<Record<string, any>>();
    expect(shown.last_run).toMatchObject({ id: run.id, gaps_repaired: 1 });
    // A second run finds nothing left to repair.
    const again = await call("POST", "/admin/reconciliation", { body: { resource_ids: [id], min_age_seconds: 0 } });
    expect(await again.json()).toMatchObject({ gaps_found: 0, gaps_repaired: 0 });
  });

  it("repairs a lost tail, which D1 alone cannot see, by asking the object", async () => {
    const id = (await createResource({ capacity: 100 })).id as string;
    await settle(id);
    await runInDurableObject(objectOf(id), (o) => {
      o.bindings.history = { sendBatch: async () => ({}) } as unknown as Queue<HistoryMessage>;
    });
    for (let i = 0; i < 3; i++) await reserve(id, { client_id: `tail-${i}` });
    await runInDurableObject(objectOf(id), async (o) => {
      while (!o.outboxCaughtUp()) await new Promise((r) => setTimeout(r, 50));
    });
    const young = await call("POST", "/admin/reconciliation", { body: { resource_ids: [id] } });
    expect(await young.json()).toMatchObject({ gaps_found: 0 }); // under a minute old: maybe still queued
    const res = await call("POST", "/admin/reconciliation", { body: { resource_ids: [id], min_age_seconds: 0 } });
    expect(await res.json()).toMatchObject({ gaps_found: 1, gaps_repaired: 1, decisions_repaired: 3 });
    expect(await d1Count("SELECT COUNT(DISTINCT seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(4);
  });
});

describe("the scheduled reconciliation", () => {
  it("finds a lost tail of a recently active resource by itself, once it is older than a minute", async () => {
    const id = await unqueued({ capacity: 100 });
    for (let i = 0; i < 3; i++) expect((await reserve(id, { client_id: `s-${i}` })).status).toBe(201);
    await messagesOf(id); // sent (and dropped)
    // The cron starts a run; its steps run on the jobs queue: wait for the run to complete.
    const scheduled = async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ cron: "0 * * * *" }), env, ctx);
      await waitOnExecutionContext(ctx);
      const run = () => call("GET", "/admin/reconciliation").then((r) => r.json<Record<string, any>>());
      await expect.poll(async () => (await run()).last_run?.status, { timeout: 20_000 }).toBe("completed");
      return run();
    };
    const young = await scheduled();
    expect(young.last_run).toMatchObject({ trigger: "scheduled", status: "completed" });
    expect(young.last_run.disagreements.map((d: { resource_id: string }) => d.resource_id)).not.toContain(id);

    await runInDurableObject(objectOf(id), (o) => {
      const base = Date.now();
      o.clock = () => base + 120_000; // the decisions are now two minutes old
    });
    const later = await scheduled();
    const mine = later.last_run.disagreements.find((d: { resource_id: string }) => d.resource_id === id);
    expect(mine).toEqual({ resource_id: id, d1_last_seq: 1, missing: [{ from: 2, to: 4, repaired: 3 }] });
    expect(await d1Count("SELECT COUNT(DISTINCT seq) AS n FROM decision_events WHERE resource_id = ?", id)).toBe(4);
  });
});

describe("availability in KV", () => {
  it("costs no KV write for a resource nobody reads", async () => {
    const id = (await createResource({ capacity: 500 })).id as string;
    const puts: Record<string, number> = {};
    await runInDurableObject(objectOf(id), (o) => {
      o.bindings.kv = wrapped(o.bindings.kv, { down: false, calls: puts });
    });
    for (let i = 0; i < 20; i++) await reserve(id, { client_id: `c${i}` });
    await settle(id);
    expect(puts.put ?? 0).toBe(0);
  });

  it("once read, refreshes KV as commits land (a few writes for 300 commits) and ends equal to the truth", async () => {
    const id = (await createResource({ capacity: 5000 })).id as string;
    const calls: Record<string, number> = {};
    await runInDurableObject(objectOf(id), (o) => {
      o.bindings.kv = wrapped(o.bindings.kv, { down: false, calls });
    });
    // The Worker itself never writes KV: only the object does, so a late fill cannot replace a newer snapshot.
    const workerCalls: Record<string, number> = {};
    const kv = wrapped(env.AVAILABILITY, { down: false, calls: workerCalls });
    const miss = await call("GET", `/availability?resource_id=${id}`, { env: { AVAILABILITY: kv } });
    expect(miss.headers.get("X-Cache-Status")).toBe("MISS");
    for (let round = 0; round < 3; round++) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, i) => reserve(id, { client_id: `c-${round}-${i}` })),
      );
      expect(batch.every((r) => r.status === 201)).toBe(true);
    }
    await settle(id);
    expect(workerCalls.put ?? 0).toBe(0);
    expect(calls.put).toBeGreaterThanOrEqual(1);
    expect(calls.put).toBeLessThanOrEqual(8);
    const truth = await (await call("GET", `/resources/${id}`)).json<Record<string, unknown>>();
    const cached = await env.AVAILABILITY.get<Record<string, unknown>>(availabilityKey(id), "json");
    expect(cached).toMatchObject({ remaining: 4700, version: truth.version, state: truth.state });
  });
});

describe("history rows", () => {
  it("carry when they reached D1 and, for client decisions, how long the decision took", async () => {
    const resource = await createResource({ capacity: 2 });
    const id = resource.id as string;
    for (let i = 0; i < 3; i++) await reserve(id, { client_id: `c${i}` }); // 2 accepted, 1 refused
    await settle(id);

    const { results } = await env.DB.prepare(
      "SELECT type, outcome, server_timestamp, latency_ms, drained_at FROM decision_events WHERE resource_id = ? ORDER BY seq",
    )
      .bind(id)
      .all<{
        type: string;
        outcome: string;
        server_timestamp: number;
        latency_ms: number | null;
        drained_at: number;
      }>();
    expect(results.map((r) => [r.type, r.outcome])).toEqual([
      ["resource.create", "ACCEPTED"],
      ["reservation.reserve", "ACCEPTED"],
      ["reservation.reserve", "ACCEPTED"],
      ["reservation.reserve", "REJECTED"],
    ]);
    for (const r of results) {
      expect(r.drained_at).toBeGreaterThanOrEqual(r.server_timestamp);
      expect(r.latency_ms).toBeGreaterThanOrEqual(0);
    }
  });
});

async function gapsRepairedMetric(): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT value FROM metric_counters WHERE name = 'history_gaps_repaired_total' AND label = ''",
  ).first<{ value: number }>();
  return row?.value ?? 0;
}

describe("history messages", () => {
  it("stay under the queue's limits in UTF-8 bytes, whatever the metadata's script", async () => {
    const id = await unqueued({ capacity: 100 });
    const metadata = { note: "予約".repeat(650) }; // 1,300 characters, ~3.9 KB of UTF-8
    for (let i = 0; i < 60; i++) expect((await reserve(id, { client_id: `c${i}`, metadata })).status).toBe(201);
    const messages = await messagesOf(id);
    const sizes = messages.map((m) => new TextEncoder().encode(JSON.stringify(m)).byteLength);
    expect(messages.length).toBeGreaterThan(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100_000);
    expect(messages.flatMap((m) => m.decisions.map((d) => d.seq)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 61 }, (_, i) => i + 1),
    );
  });
});
