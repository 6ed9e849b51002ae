/** Retry timing and logging shared by the queue consumers. */
import { backoffMs } from "../lib/backoff";
import { logFailure } from "../lib/log";

/** Seconds before a failed message is delivered again (lib/backoff.ts, in whole seconds, at least 1). */
export function retryDelaySeconds(attempts: number): number {
  return Math.max(1, Math.round(backoffMs(attempts) / 1000));
}

/** The most attempts any message of `batch` has had: a batch retried as a whole backs off by it. */
export function maxAttempts(batch: MessageBatch<unknown>): number {
  return Math.max(...batch.messages.map((m) => m.attempts));
}

/** One JSON warning line about a queue batch (it is retried, so not an error). */
export function logQueue(msg: string, queue: string, err: unknown, extra: Record<string, unknown> = {}): void {
  logFailure(msg, err, { queue, ...extra });
}
