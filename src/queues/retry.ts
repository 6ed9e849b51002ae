/** Retry timing and logging shared by the queue consumers. */
import { backoffMs } from "../lib/backoff";

/** Seconds before a failed message is delivered again (lib/backoff.ts, in whole seconds, at least 1). */
export function retryDelaySeconds(attempts: number): number {
  return Math.max(1, Math.round(backoffMs(attempts) / 1000));
}

/** One JSON warning line about a queue batch (it is retried, so not an error). */
export function logQueue(msg: string, queue: string, err: unknown, extra: Record<string, unknown> = {}): void {
  console.warn(JSON.stringify({ level: "warn", msg, queue, error: String(err), ...extra }));
}
