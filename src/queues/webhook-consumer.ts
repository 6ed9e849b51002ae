/**
 * The webhook queue's consumer: delivers each job (signed, its target checked
 * before every attempt, redirects never followed), retries a failure through
 * the queue with backoff, and after WEBHOOK_MAX_ATTEMPTS records a dead
 * letter in the resource's timeline (so in the history and
 * GET /admin/dead-letters). Deliveries run a few at a time, each with its own
 * timeout from when its request is sent.
 */
import { type Config, config } from "../config";
import { inPool } from "../lib/pool";
import { orderStub } from "../order-object/address";
import { resourceStub } from "../resource-object/address";
import type { WebhookJob } from "../resource-object/outbox/webhooks";
import { addToCounters } from "../storage/counters";
import { logQueue, retryDelaySeconds } from "./retry";
import { deliver, deliveryRefusal } from "./webhook-delivery";

/** Under the six simultaneous connections a Worker invocation may open. */
const IN_FLIGHT = 5;

export async function consumeWebhooks(
  batch: MessageBatch<WebhookJob>,
  env: Env,
  fetcher: typeof fetch = (input, init) => fetch(input, init),
): Promise<void> {
  const settings = config(env);
  const outcomes = { delivered: 0, retried: 0 };
  await inPool([...batch.messages], IN_FLIGHT, async (message) => {
    const error = await attempt(message.body, settings, fetcher);
    if (error === null) {
      message.ack();
      outcomes.delivered += 1;
    } else if (message.attempts >= settings.WEBHOOK_MAX_ATTEMPTS) {
      await recordDeadLetter(env, message.body, message.attempts, error).then(
        () => message.ack(),
        (err) => {
          logQueue("dead letter not recorded, retried", batch.queue, err);
          message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
        },
      );
    } else {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      outcomes.retried += 1;
    }
  });
  // Dead letters are counted from the timeline (migrations/0004's trigger); these two from here.
  await addToCounters(env.DB, "webhook_deliveries_total", outcomes).catch((err) =>
    logQueue("webhook counters not recorded", batch.queue, err),
  );
}

/** One attempt: null when delivered, else why not. */
async function attempt(job: WebhookJob, settings: Config, fetcher: typeof fetch): Promise<string | null> {
  if (!settings.WEBHOOK_SECRET) return "WEBHOOK_SECRET is not configured";
  const refused = deliveryRefusal(job.url, settings);
  if (refused) return refused; // retried like any failure, then dead-lettered: visible to the operator
  try {
    await deliver(fetcher, job.url, job.event, settings.WEBHOOK_SECRET, settings.WEBHOOK_TIMEOUT_MS);
    return null;
  } catch (err) {
    return String(err);
  }
}

/**
 * The dead letter, as a decision of the event's resource: in its timeline, then in the history. An
 * order's event is recorded among the order's steps (GET /admin/orders/{id}/explain).
 */
export function recordDeadLetter(env: Env, job: WebhookJob, attempts: number | null, error: string): Promise<void> {
  const { event, url } = job;
  const orderId = event.order_id;
  if (orderId) return orderStub(env, orderId).recordDeadLetter({ orderId, eventId: event.id, url, attempts, error });
  return resourceStub(env, event.resource_id ?? "").recordDeadLetter({
    eventId: event.id,
    eventSeq: event.server_seq,
    url,
    attempts,
    error,
  });
}
