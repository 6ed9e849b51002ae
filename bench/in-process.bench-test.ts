/**
 * Commits per second inside one Durable Object, without HTTP or RPC per
 * commit: the full reserve command (decision, reservation row, timeline entry,
 * resource row, idempotency record) next to a bare SQLite insert+update in the
 * same object. Median of 3 runs each.
 *
 * Measured twice, each side committing the same way:
 * - grouped: MAX_GROUP commands per transaction, as the engine commits under
 *   load (group-commit.ts). The full commits go through the real GroupCommit
 *   queue; the benchmark calls its `flush()` itself instead of waiting for the
 *   timer turn, whose cost in the test pool is not the engine's.
 * - alone: one command per transaction, as at low load.
 *
 * Time only advances across I/O in workerd, so each run is timed around one
 * `runInDurableObject` call that performs the whole loop.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { it } from "vitest";
import type { CommandReply } from "../src/resource-object/commands";
import { MAX_GROUP } from "../src/resource-object/group-commit";
import type { ResourceObject } from "../src/resource-object/resource-object";

const COMMITS = 20_000;
const RUNS = 3;

function stub(name: string): DurableObjectStub<ResourceObject> {
  const ns = env.RESOURCE_OBJECT as DurableObjectNamespace<ResourceObject>;
  return ns.get(ns.idFromName(name));
}

async function perSecond(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (COMMITS / (performance.now() - start)) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function createBenchResource(id: string): Promise<DurableObjectStub<ResourceObject>> {
  const object = stub(id);
  await runInDurableObject(object, (o) =>
    o.create({
      spec: {
        id,
        type: "bench",
        capacity: 1_000_000,
        waitingListEnabled: false,
        bookingOpensAt: null,
        bookingClosesAt: null,
        maxQuantityPerReservation: null,
        holdTtlSeconds: 600,
        waitingListOfferTtlSeconds: 900,
        metadata: {},
      },
      requestId: "bench",
    }),
  );
  return object;
}

/** COMMITS full reserve commands, `perTransaction` of them in each transaction. */
function fullCommits(object: DurableObjectStub<ResourceObject>, run: string, perTransaction: number) {
  return runInDurableObject(object, async (o) => {
    const replies: Promise<CommandReply>[] = [];
    for (let i = 0; i < COMMITS; i++) {
      replies.push(
        o.reserve({
          clientId: `c-${i}`,
          quantity: 1,
          hold: false,
          metadata: {},
          requestId: `req-${i}`,
          idempotency: { key: `admin|POST /reservations|${run}-${i}`, fingerprint: "f".repeat(64) },
        }),
      );
      if (replies.length % perTransaction === 0) o.groupCommit.flush();
    }
    o.groupCommit.flush();
    const statuses = (await Promise.all(replies)).map((r) => r.status);
    if (statuses.some((s) => s !== 201)) throw new Error("a benchmark reserve was not accepted");
  });
}

/** COMMITS bare insert+update pairs, `perTransaction` of them in each transaction. */
function bareCommits(object: DurableObjectStub<ResourceObject>, run: string, perTransaction: number) {
  return runInDurableObject(object, (_o, state) => {
    const sql = state.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS bare_rows (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS bare_counter (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    sql.exec("INSERT OR IGNORE INTO bare_counter VALUES (1, 0)");
    for (let first = 0; first < COMMITS; first += perTransaction) {
      state.storage.transactionSync(() => {
        for (let i = first; i < Math.min(first + perTransaction, COMMITS); i++) {
          sql.exec("INSERT INTO bare_rows VALUES (?, ?)", `${run}-${i}`, i);
          sql.exec("UPDATE bare_counter SET n = n + 1 WHERE k = 1");
        }
      });
    }
  });
}

it("measures in-process commits per second", async () => {
  const runs: Record<string, number[]> = { full_grouped: [], bare_grouped: [], full_alone: [], bare_alone: [] };
  for (let run = 0; run < RUNS; run++) {
    for (const [mode, perTransaction] of [
      ["grouped", MAX_GROUP],
      ["alone", 1],
    ] as const) {
      const object = await createBenchResource(`bench-${mode}-${run}-${crypto.randomUUID().slice(0, 8)}`);
      runs[`full_${mode}`]?.push(await perSecond(() => fullCommits(object, `${run}`, perTransaction)));
      runs[`bare_${mode}`]?.push(await perSecond(() => bareCommits(object, `${run}`, perTransaction)));
    }
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, Math.round(median(xs))])) as Record<
    string,
    number
  >;
  const line = {
    scenario: "in-process",
    commits_per_run: COMMITS,
    commits_per_transaction: MAX_GROUP,
    full_commit_per_s: m.full_grouped,
    bare_insert_update_per_s: m.bare_grouped,
    ratio: Number(((m.full_grouped ?? 0) / (m.bare_grouped ?? 1)).toFixed(2)),
    alone_full_commit_per_s: m.full_alone,
    alone_bare_insert_update_per_s: m.bare_alone,
    alone_ratio: Number(((m.full_alone ?? 0) / (m.bare_alone ?? 1)).toFixed(2)),
    runs,
  };
  console.log(`BENCH ${JSON.stringify(line)}`);
});
