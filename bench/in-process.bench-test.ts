/**
 * Commits per second inside one Durable Object, without HTTP or RPC per
 * commit: the full reserve command (decision, reservation row, timeline entry,
 * resource row, idempotency record, each in its own transaction) next to a
 * bare SQLite insert+update in the same object. Median of 3 runs each.
 *
 * Time only advances across I/O in workerd, so each run is timed around one
 * `runInDurableObject` call that performs the whole loop.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { it } from "vitest";
import type { ResourceObject } from "../src/resource-object/resource-object";

const COMMITS = Number(process.env.BENCH_COMMITS ?? 20_000);
const RUNS = 3;

function stub(name: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(name));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

it("measures in-process commits per second", async () => {
  const results: Record<string, number[]> = { full_commit: [], bare_insert_update: [] };
  for (let run = 0; run < RUNS; run++) {
    const id = `bench-${run}-${crypto.randomUUID().slice(0, 8)}`;
    const object = stub(id);
    await runInDurableObject(object, (o) =>
      o.create({
        spec: {
          id,
          type: "bench",
          capacity: 10_000_000,
          waitingListEnabled: false,
          bookingOpensAt: null,
          bookingClosesAt: null,
          maxQuantityPerReservation: null,
          holdTtlSeconds: 600,
          metadata: {},
        },
        requestId: "bench",
      }),
    );
    const full = await timed(() =>
      runInDurableObject(object, (o) => {
        for (let i = 0; i < COMMITS; i++) {
          o.reserve({
            clientId: `c-${i}`,
            quantity: 1,
            hold: false,
            metadata: {},
            requestId: `req-${i}`,
            idempotency: { key: `admin|POST /reservations|k-${i}`, fingerprint: "f".repeat(64) },
          });
        }
      }),
    );
    results.full_commit?.push((COMMITS / full) * 1000);

    const bare = await timed(() =>
      runInDurableObject(object, (_o, state) => {
        const sql = state.storage.sql;
        sql.exec("CREATE TABLE IF NOT EXISTS bare_rows (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
        sql.exec("CREATE TABLE IF NOT EXISTS bare_counter (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
        sql.exec("INSERT OR IGNORE INTO bare_counter VALUES (1, 0)");
        for (let i = 0; i < COMMITS; i++) {
          state.storage.transactionSync(() => {
            sql.exec("INSERT INTO bare_rows VALUES (?, ?)", `${run}-${i}`, i);
            sql.exec("UPDATE bare_counter SET n = n + 1 WHERE k = 1");
          });
        }
      }),
    );
    results.bare_insert_update?.push((COMMITS / bare) * 1000);
  }
  const full = median(results.full_commit ?? []);
  const bare = median(results.bare_insert_update ?? []);
  const line = {
    scenario: "in-process",
    commits_per_run: COMMITS,
    full_commit_per_s: Math.round(full),
    bare_insert_update_per_s: Math.round(bare),
    ratio: Number((full / bare).toFixed(2)),
    runs: results,
  };
  console.log(`BENCH ${JSON.stringify(line)}`);
});
