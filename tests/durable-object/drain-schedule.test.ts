import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ResourceObject } from "../../src/resource-object/resource-object";
import { BACKSTOP_MS } from "../../src/resource-object/resource-object";
import { createResource, reserve } from "../helpers";

function objectOf(id: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(id));
}

async function historyRows(resourceId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM decision_events WHERE resource_id = ?")
    .bind(resourceId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** Makes the object settle `ms` after its outbox drains, instead of QUIET_MS (tests do not sleep 5 s). */
async function settleAfter(resourceId: string, ms: number): Promise<void> {
  await runInDurableObject(objectOf(resourceId), (o) => {
    (o as unknown as { drainer: { quietMs: number } }).drainer.quietMs = ms;
  });
}

async function storedAlarm(resourceId: string): Promise<number | null> {
  return runInDurableObject(objectOf(resourceId), (_o, state) => state.storage.getAlarm());
}

async function storedCursor(resourceId: string): Promise<number> {
  return runInDurableObject(objectOf(resourceId), (_o, state) => {
    return state.storage.sql.exec("SELECT drained_seq FROM outbox_state").one().drained_seq as number;
  });
}

/** Polls until `check` holds, for at most `ms`; no alarm is run meanwhile. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe("when the outbox drains", () => {
  it("drains on a timer soon after a commit, well before the backstop alarm", async () => {
    const id = (await createResource({ capacity: 10 })).id as string;
    for (let i = 0; i < 3; i++) expect((await reserve(id, { client_id: `c-${i}` })).status).toBe(201);
    // create + 3 reservations reach D1 without any alarm being run.
    expect(await eventually(async () => (await historyRows(id)) === 4, 2_000)).toBe(true);
    // The backstop is armed, far off: at most BACKSTOP_MS after the first commit.
    const alarm = await runInDurableObject(objectOf(id), (_o, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm as number).toBeGreaterThan(Date.now() + BACKSTOP_MS / 2);
    expect(alarm as number).toBeLessThanOrEqual(Date.now() + BACKSTOP_MS);
  });

  it("drains through the backstop alarm when the timer never fires (an object evicted first)", async () => {
    const id = (await createResource({ capacity: 10 })).id as string;
    expect(await eventually(async () => (await historyRows(id)) === 1, 2_000)).toBe(true);
    // An evicted object loses its timers; here the real object simply stops setting them.
    await runInDurableObject(objectOf(id), (o) => {
      (o as unknown as { drainer: { drainAt(at: number): void } }).drainer.drainAt = () => {};
    });
    expect((await reserve(id)).status).toBe(201);
    expect(await eventually(async () => (await historyRows(id)) === 2, 500)).toBe(false);

    expect(await runDurableObjectAlarm(objectOf(id))).toBe(true);
    expect(await eventually(async () => (await historyRows(id)) === 2, 5_000)).toBe(true);
  });

  it("saves the drain's cursor with the next commit, and a drain repeated after a crash adds nothing", async () => {
    const id = (await createResource({ capacity: 10 })).id as string;
    expect(await eventually(async () => (await historyRows(id)) === 1, 2_000)).toBe(true);
    // Without a webhook receiver configured: a round that sent webhooks saves its cursors at once.
    await runInDurableObject(objectOf(id), (o) => {
      const host = o as unknown as { env: Env & { WEBHOOK_URL?: string } };
      const { WEBHOOK_URL: _, ...withoutReceiver } = host.env;
      host.env = withoutReceiver;
    });
    const before = await storedCursor(id);
    expect((await reserve(id, { client_id: "a" })).status).toBe(201);
    expect(await eventually(async () => (await historyRows(id)) === 2, 2_000)).toBe(true);
    // The timer's drain wrote no commit of its own: the stored cursor has not moved to 2 yet...
    expect(await storedCursor(id)).toBe(before);
    expect(before).toBeLessThan(2);
    expect((await reserve(id, { client_id: "b" })).status).toBe(201);
    // ...it moves with the next commit.
    expect(await storedCursor(id)).toBe(2);
    expect(await eventually(async () => (await historyRows(id)) === 3, 2_000)).toBe(true);

    // A crash loses the unsaved cursor (3): the next life sends seq 3 again, and D1 keeps one copy.
    await abortAllDurableObjects();
    expect(await runDurableObjectAlarm(objectOf(id))).toBe(true);
    expect(await eventually(async () => (await storedCursor(id)) === 3, 2_000)).toBe(true);
    expect(await historyRows(id)).toBe(3);
  });

  it("settles a quiet object: the cursors are saved and the backstop alarm dropped, so nothing wakes it", async () => {
    const id = (await createResource({ capacity: 10 })).id as string;
    await settleAfter(id, 150);
    expect((await reserve(id)).status).toBe(201);
    expect(await eventually(async () => (await historyRows(id)) === 2, 2_000)).toBe(true);
    expect(await eventually(async () => (await storedAlarm(id)) === null, 2_000)).toBe(true);
    expect(await storedCursor(id)).toBe(2);
    // The next commit arms the backstop again.
    expect((await reserve(id)).status).toBe(201);
    expect(await storedAlarm(id)).not.toBeNull();
  });

  it("moves the alarm of a quiet object that holds a reservation to the hold's expiry", async () => {
    const id = (await createResource({ capacity: 10 })).id as string;
    await settleAfter(id, 150);
    const held = await reserve(id, { hold: true });
    expect(held.status).toBe(201);
    const expiresAt = Date.parse(((await held.json()) as { expires_at: string }).expires_at);
    // Not the 30 s backstop any more, and not dropped: the expiry still needs a wake-up.
    expect(await eventually(async () => (await storedAlarm(id)) === expiresAt, 3_000)).toBe(true);
  });
});
