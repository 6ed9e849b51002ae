/**
 * Consumers of the dead-letter queues: messages their consumer failed on
 * every attempt (a poisoned message, a bug). Each is recorded where an
 * operator looks: a webhook as a dead letter in its resource's timeline
 * (GET /admin/dead-letters), a history message in `history_dead_letters`
 * (GET /admin/reconciliation), whose decisions the reconciler re-sends from
 * the object.
 */
import type { WebhookJob } from "../resource-object/outbox/webhooks";
import type { HistoryMessage, HistoryQueueMessage } from "../storage/history-writer";
import { recordHistoryDeadLetters } from "../storage/reconciliation";
import { logQueue, maxAttempts, retryDelaySeconds } from "./retry";
import { recordDeadLetter } from "./webhook-consumer";

export async function consumeHistoryDeadLetters(
  batch: MessageBatch<HistoryQueueMessage>,
  db: D1Database,
): Promise<void> {
  const now = Date.now();
  const [orderRows, resourceMessages] = partition(batch.messages, (m) => m.body !== null && "order" in m.body);
  // An order's row is sent again with its next change; a lost last one shows in GET /orders/{id} regardless.
  for (const m of orderRows) logQueue("order history row dead-lettered", batch.queue, "gave up", { body: m.body });
  const rows = resourceMessages.map((m) => {
    const body = m.body as Partial<HistoryMessage> | null;
    const seqs = (body?.decisions ?? []).map((d) => d.seq);
    return {
      resourceId: String(body?.resource?.id ?? "unknown"),
      firstSeq: seqs.length ? Math.min(...seqs) : 0,
      lastSeq: seqs.length ? Math.max(...seqs) : 0,
      decisions: seqs.length,
      receivedAt: now,
    };
  });
  try {
    await recordHistoryDeadLetters(db, rows);
    batch.ackAll();
  } catch (err) {
    logQueue("history dead letters not recorded", batch.queue, err);
    batch.retryAll({ delaySeconds: retryDelaySeconds(maxAttempts(batch)) });
  }
}

export async function consumeWebhookDeadLetters(batch: MessageBatch<WebhookJob>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    try {
      await recordDeadLetter(env, message.body, null, "the webhook consumer failed on every attempt");
      message.ack();
    } catch (err) {
      logQueue("webhook dead letter not recorded", batch.queue, err);
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((i) => !test(i))];
}
