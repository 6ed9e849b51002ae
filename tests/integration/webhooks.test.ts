import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { signature } from "../../src/queues/webhook-delivery";
import type { WebhookJob } from "../../src/resource-object/outbox/webhooks";
import { call, createResource, received, reserve, settle, uniqueId } from "../helpers";

const SECRET = "test-webhook-secret-0123456789";
const json = (res: Response) => res.json<Record<string, any>>();

/** Runs the webhook queue's consumer on `jobs`, each delivered for the `attempts`-th time. */
async function consume(jobs: WebhookJob[], attempts: number, bindings: Partial<Env> = {}) {
  const batch = createMessageBatch<WebhookJob>(
    "reservation-webhooks",
    jobs.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...bindings }, ctx);
  return getQueueResult(batch, ctx);
}

/** A job for `resourceId` (whose timeline will hold any dead letter), as the object would queue it. */
function job(resourceId: string, url: string, seq = 1): WebhookJob {
  return {
    url,
    event: {
      id: `evt_${resourceId}_${seq}`,
      type: "resource.created",
      resource_id: resourceId,
      server_seq: seq,
      occurred_at: new Date().toISOString(),
      data: {},
    },
  };
}

async function counter(label: string): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT value FROM metric_counters WHERE name = 'webhook_deliveries_total' AND label = ?",
  )
    .bind(label)
    .first<{ value: number }>();
  return row?.value ?? 0;
}

describe("webhooks through the queue", () => {
  it("delivers every event to WEBHOOK_URL, signed, and counts the deliveries", async () => {
    const before = await counter("delivered");
    const id = (await createResource({ capacity: 1 })).id as string;
    const r = await json(await reserve(id));
    await reserve(id, { client_id: "late" });
    await call("POST", `/reservations/${r.id}/cancel`);
    await call("PATCH", `/resources/${id}`, { body: { capacity: 2 } });
    await settle(id);
    // An attempt cut off by its timeout on a loaded machine may arrive with a partial body; the queue retries it.
    const mine = async () => (await received("global")).filter((g) => g.body.includes(`"resource_id":"${id}"`));
    await expect.poll(async () => (await mine()).length, { timeout: 15_000 }).toBe(5);
    // Deliveries carry no order; server_seq orders them.
    const got = (await mine()).sort((a, b) => JSON.parse(a.body).server_seq - JSON.parse(b.body).server_seq);
    expect(got.map((g) => JSON.parse(g.body).type)).toEqual([
      "resource.created",
      "reservation.confirmed",
      "reservation.rejected",
      "reservation.cancelled",
      "resource.updated",
    ]);
    // The resource as the API shows it; the audit trail and the rules' own patch stay in the timeline.
    const updated = JSON.parse((got[4] as { body: string }).body).data;
    expect(updated.resource).toMatchObject({ capacity: 2 });
    expect(Object.keys(updated)).not.toContain("patch");
    expect(Object.keys(updated)).not.toContain("before");
    for (const g of got) {
      const t = Number(/t=(\d+)/.exec(g.signature)?.[1]);
      expect(g.signature).toBe(await signature(SECRET, g.body, t));
    }
    expect(await counter("delivered")).toBeGreaterThanOrEqual(before + 5);
  });

  it("retries a receiver that fails 3 times, through the queue's backoff, until it gets the event", async () => {
    const id = (await createResource({ capacity: 1, waiting_list_enabled: true })).id as string;
    const r = await json(await reserve(id));
    const name = uniqueId("flaky");
    await call("POST", "/waiting-list/join", {
      body: { resource_id: id, client_id: "w", callback_url: `https://hooks.test/flaky/${name}` },
    });
    await call("POST", `/reservations/${r.id}/cancel`);
    await settle(id);
    const got = await received(name, 4, 40_000);
    expect(got.map((g) => g.answered)).toEqual([500, 500, 500, 200]);
    expect(new Set(got.map((g) => g.event_id)).size).toBe(1);
  });

  it("asks the queue to retry a failure with a delay, and counts it", async () => {
    const before = await counter("retried");
    const id = (await createResource()).id as string;
    const result = await consume([job(id, `https://hooks.test/dead/${uniqueId("d")}`)], 1);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m0"]);
    expect(result.explicitAcks).toEqual([]);
    expect(await counter("retried")).toBe(before + 1);
  });

  it("does not follow a receiver's redirect: the signed body never reaches a target nobody checked", async () => {
    const id = (await createResource()).id as string;
    const name = uniqueId("redirect");
    const result = await consume([job(id, `https://hooks.test/redirect/${name}`)], 1);
    expect(result.retryMessages).toHaveLength(1);
    expect((await received(name)).map((g) => g.answered)).toEqual([307]);
    expect(await received(`${name}-redirected`)).toEqual([]);
  });

  it("checks the target before every attempt: a callback to a private host is refused, never fetched", async () => {
    const id = (await createResource()).id as string;
    let fetched = 0;
    const batch = createMessageBatch<WebhookJob>("reservation-webhooks", [
      { id: "m0", timestamp: new Date(), attempts: 2, body: job(id, "https://169.254.169.254/latest") },
    ]);
    const ctx = createExecutionContext();
    const { consumeWebhooks } = await import("../../src/queues/webhook-consumer");
    await consumeWebhooks(batch, env, async () => {
      fetched += 1;
      return new Response("ok");
    });
    expect((await getQueueResult(batch, ctx)).retryMessages).toHaveLength(1);
    expect(fetched).toBe(0);
  });

  it("dead-letters an event after the last attempt: in the timeline, /admin/dead-letters and the metric", async () => {
    const id = (await createResource()).id as string;
    const name = uniqueId("dead");
    const url = `https://hooks.test/dead/${name}`;
    const result = await consume([job(id, url)], 4); // WEBHOOK_MAX_ATTEMPTS is 4 in the tests
    expect(result.explicitAcks).toEqual(["m0"]);
    await settle(id);
    const dead = await json(await call("GET", "/admin/dead-letters"));
    const mine = dead.items.filter((d: any) => d.resource_id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ url, attempts: 4 });
    const timeline = (await json(await call("GET", `/admin/resources/${id}/timeline?limit=1000`))).items;
    expect(timeline.filter((e: any) => e.type === "webhook.dead_letter")).toHaveLength(1);
    const metrics = await (await call("GET", "/metrics")).text();
    expect(metrics).toMatch(/webhook_deliveries_total\{outcome="dead_lettered"\} [1-9]/);
  });

  it("records a dead letter once, however often its job is delivered (a lost ack, the dead-letter queue too)", async () => {
    const id = (await createResource()).id as string;
    const url = `https://hooks.test/dead/${uniqueId("twice")}`;
    for (let i = 0; i < 2; i++) expect((await consume([job(id, url)], 4)).explicitAcks).toEqual(["m0"]);
    const batch = createMessageBatch<WebhookJob>("reservation-webhooks-dlq", [
      { id: "d0", timestamp: new Date(), attempts: 1, body: job(id, url) },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["d0"]);
    const timeline = (await json(await call("GET", `/admin/resources/${id}/timeline?limit=1000`))).items;
    expect(timeline.filter((e: any) => e.type === "webhook.dead_letter")).toHaveLength(1);
  });

  it("starts each attempt's timeout when its request is sent, not while it waits behind others", async () => {
    // 7 deliveries to a receiver that answers after 3 s, 5 at a time: the last two are sent at ~3 s and
    // answered at ~6 s. With a 4.5 s timeout counted from the batch's start they would fail.
    const id = (await createResource()).id as string;
    const name = uniqueId("slow");
    const jobs = Array.from({ length: 7 }, (_, i) => job(id, `https://hooks.test/slow/${name}`, i + 1));
    const result = await consume(jobs, 1, { WEBHOOK_TIMEOUT_MS: "4500" } as Partial<Env>);
    expect(result.explicitAcks.sort()).toEqual(jobs.map((_, i) => `m${i}`).sort());
    expect((await received(name)).map((g) => g.answered)).toEqual(Array(7).fill(200));
  });
});
