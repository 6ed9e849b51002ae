/**
 * Runs `work` on every item with at most `limit` in flight. Workers allow six
 * simultaneous outbound connections per invocation; staying under it means
 * no request waits for a connection, so a timeout started with the request
 * measures the receiver, not a queue in front of it.
 */
export async function inPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
