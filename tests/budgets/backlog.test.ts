import { runInDurableObject } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { peaks } from "../../src/lib/budget";
import type { HistoryMessage } from "../../src/storage/history-writer";
import { createResource, historyWritten, objectOf, reserve, settle } from "../helpers";
import { count, expectAllWithinBudget, reportPeaks } from "./support";

const BACKLOG = 5000;

afterAll(reportPeaks);

describe("a backlog of 5,000 undelivered decisions", () => {
  it("drains in rounds and lands in D1 in batches, each invocation within the budget", async () => {
    const id = (await createResource({ capacity: BACKLOG * 2 })).id as string;
    await settle(id);
    // The history queue refuses every send (an outage): the object keeps deciding, the outbox grows.
    const fault = { down: true };
    await runInDurableObject(objectOf(id), (o) => {
      const real = o.bindings.history;
      o.bindings.history = {
        sendBatch: (m: Iterable<MessageSendRequest<HistoryMessage>>) =>
          fault.down ? Promise.reject(new Error("queue unavailable (injected)")) : real.sendBatch(m),
      } as unknown as Queue<HistoryMessage>;
    });
    for (let at = 0; at < BACKLOG; at += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, (_, i) => reserve(id, { client_id: `c${at + i}` })));
      expect(batch.every((r) => r.status === 201)).toBe(true);
    }
    expect(await runInDurableObject(objectOf(id), (o) => o.outboxBacklog())).toBeGreaterThanOrEqual(BACKLOG - 200);

    peaks.clear();
    fault.down = false;
    await settle(id);
    await historyWritten(id, BACKLOG + 1, 60_000);
    expect(await count("SELECT COUNT(*) AS n FROM reservations WHERE resource_id = ?", id)).toBe(BACKLOG);
    const peak = expectAllWithinBudget();
    // A round sends at most 20 batches of 200 decisions per queue; the consumer writes a batch of up
    // to 100 messages in a few statements of up to 1,000 rows each.
    expect(peak["object alarm"] ?? peak["object drain round"]).toBeDefined();
    expect(peak["queue reservation-history"]?.d1_queries).toBeLessThanOrEqual(20);
  }, 300_000);
});
