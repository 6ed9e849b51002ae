/** Retry timing and logging shared by the queue consumers. */

/**
 * Seconds before a failed message is delivered again: exponential with
 * jitter, 1 s after the first attempt, doubling, capped at 5 minutes.
 */
export function retryDelaySeconds(attempts: number): number {
  const ceiling = Math.min(300, 2 ** Math.max(0, attempts - 1));
  return Math.max(1, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
}

/** One JSON warning line about a queue batch (it is retried, so not an error). */
export function logQueue(msg: string, queue: string, err: unknown, extra: Record<string, unknown> = {}): void {
  console.warn(JSON.stringify({ level: "warn", msg, queue, error: String(err), ...extra }));
}
