/**
 * Exponential backoff with jitter for retries of background work: up to 1 s
 * after the first failure, doubling, capped at 5 minutes; each wait is drawn
 * between half the ceiling and the ceiling, so retries spread out.
 */
export function backoffMs(failures: number): number {
  const ceiling = Math.min(300_000, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
