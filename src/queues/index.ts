/**
 * The Worker's queue handler: one consumer per queue of wrangler.toml,
 * chosen by the queue's name (its suffix, so a deployment may prefix names,
 * e.g. `staging-reservation-history`).
 */
import type { JobStep } from "../jobs/steps";
import { consumeJobs } from "../jobs/steps";
import { type Meter, meteredFetch } from "../lib/budget";
import type { WebhookJob } from "../resource-object/outbox/webhooks";
import type { HistoryQueueMessage } from "../storage/history-writer";
import { consumeHistoryDeadLetters, consumeWebhookDeadLetters } from "./dead-letters";
import { consumeHistory } from "./history-consumer";
import { logQueue } from "./retry";
import { consumeWebhooks } from "./webhook-consumer";

const QUEUES = [
  "reservation-history-dlq",
  "reservation-webhooks-dlq",
  "reservation-history",
  "reservation-webhooks",
  "reservation-jobs",
] as const;

/** Which of the engine's queues `name` is (a deployment may prefix the names), or the name itself. */
export function queueOf(name: string): string {
  return QUEUES.find((q) => name.endsWith(q)) ?? name;
}

export async function consumeQueue(batch: MessageBatch, env: Env, meter: Meter): Promise<void> {
  switch (queueOf(batch.queue)) {
    case "reservation-history":
      return consumeHistory(batch as MessageBatch<HistoryQueueMessage>, env.DB, meter);
    case "reservation-webhooks":
      return consumeWebhooks(batch as MessageBatch<WebhookJob>, env, meteredFetch(meter));
    case "reservation-jobs":
      return consumeJobs(batch as MessageBatch<JobStep>, env, meter);
    case "reservation-history-dlq":
      return consumeHistoryDeadLetters(batch as MessageBatch<HistoryQueueMessage>, env.DB);
    case "reservation-webhooks-dlq":
      return consumeWebhookDeadLetters(batch as MessageBatch<WebhookJob>, env);
  }
  logQueue("no consumer for this queue; messages retried", batch.queue, "unknown queue");
  batch.retryAll();
}
