/**
 * Counts of the platform operations Cloudflare bills, kept by the code that
 * makes them, per isolate (locally the Worker and its Durable Objects share
 * one). `npm run bench:cost` reads them through GET /__bench/usage
 * (BENCH_ROUTES only) to price a reservation. Plain increments: free enough
 * to leave on.
 */
export const usage = {
  /** RPC calls to Durable Objects and alarm invocations: each is a billed request. */
  doRequests: 0,
  /** Rows written by Durable Objects' SQLite, as SQLite reports them (indexes included). */
  doRowsWritten: 0,
  /** setAlarm / deleteAlarm calls. */
  alarms: 0,
  d1Requests: 0,
  d1RowsWritten: 0,
  kvWrites: 0,
  /** Messages sent to queues. */
  queueMessages: 0,
  /** Billed queue operations: each 64 KB of a message is written, read and deleted once. */
  queueOperations: 0,
  /** Outbound fetches (webhook deliveries). */
  fetches: 0,
};

export type UsageCounter = keyof typeof usage;

export function countUsage(counter: UsageCounter, n = 1): void {
  usage[counter] += n;
}

export function resetUsage(): void {
  for (const k of Object.keys(usage) as UsageCounter[]) usage[k] = 0;
}

/** Counts the D1 rows a set of results wrote. */
export function countD1(results: D1Result[] | D1Result): void {
  countUsage("d1Requests");
  for (const r of Array.isArray(results) ? results : [results]) countUsage("d1RowsWritten", r.meta?.rows_written ?? 0);
}

/** Counts queue messages and their billed operations (3 per started 64 KB). */
export function countQueueMessages(sizes: number[]): void {
  countUsage("queueMessages", sizes.length);
  countUsage(
    "queueOperations",
    sizes.reduce((n, bytes) => n + 3 * Math.max(1, Math.ceil(bytes / 65_536)), 0),
  );
}

/** SQLite in a Durable Object, counting the rows each statement writes. */
export function countingSql(sql: SqlStorage): SqlStorage {
  return new Proxy(sql, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "exec") return typeof value === "function" ? value.bind(target) : value;
      return (query: string, ...bindings: unknown[]) => {
        const cursor = target.exec(query, ...bindings);
        countUsage("doRowsWritten", cursor.rowsWritten);
        return cursor;
      };
    },
  });
}
