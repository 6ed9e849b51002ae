/**
 * The Worker's queue handler: one consumer per queue of wrangler.toml,
 * chosen by the queue's name (its suffix, so a deployment may prefix names,
 * e.g. `staging-reservation-history`).
 */
import type { WebhookJob } from "../resource-object/webhooks";
import type { HistoryMessage } from "../storage/history-writer";
import { consumeHistoryDeadLetters, consumeWebhookDeadLetters } from "./dead-letters";
import { consumeHistory } from "./history-consumer";
import { logQueue } from "./retry";
import { consumeWebhooks } from "./webhook-consumer";

export async function consumeQueue(batch: MessageBatch, env: Env): Promise<void> {
  const name = batch.queue;
  if (name.endsWith("reservation-history")) return consumeHistory(batch as MessageBatch<HistoryMessage>, env.DB);
  if (name.endsWith("reservation-webhooks")) return consumeWebhooks(batch as MessageBatch<WebhookJob>, env);
  if (name.endsWith("reservation-history-dlq"))
    return consumeHistoryDeadLetters(batch as MessageBatch<HistoryMessage>, env.DB);
  if (name.endsWith("reservation-webhooks-dlq"))
    return consumeWebhookDeadLetters(batch as MessageBatch<WebhookJob>, env);
  logQueue("no consumer for this queue; messages retried", name, "unknown queue");
  batch.retryAll();
}
