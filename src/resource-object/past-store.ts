/**
 * What explaining a decision reads beyond the timeline itself: snapshots of
 * the state every so many decisions, the availability snapshots this object
 * handed out for caching (to KV, and on a miss to the Worker, which keeps it
 * in memory briefly), and decisions by request id or by reservation. Nothing
 * here is written on the commit path (see past-states.ts).
 */
import type { Holder, PastState } from "../domain/replay";
import type { ResourceState } from "../domain/resource";
import type { ResourceStore, TimelineEntry } from "./store";

/** Holders per snapshot row: a row stays well under SQLite's 2 MB value limit in a Durable Object. */
const HOLDERS_PER_ROW = 2000;
/** How long published availability snapshots are kept to explain decisions by (epoch ms). */
export const VIEW_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** An availability snapshot handed out for caching: what a cached read showed from `asOf` on. */
export interface AvailabilityView {
  asOf: number;
  version: number;
  state: "OPEN" | "CLOSED";
  remaining: number;
}

type Row = Record<string, SqlStorageValue>;

export class PastStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: ResourceStore,
  ) {}

  /** The latest snapshot at or before `seq`, or null. */
  snapshotAtOrBefore(seq: number): PastState | null {
    const rows = this.sql
      .exec<Row>(
        `SELECT seq, server_timestamp, resource, holders FROM snapshots
         WHERE seq = (SELECT MAX(seq) FROM snapshots WHERE seq <= ?) ORDER BY part`,
        seq,
      )
      .toArray();
    const first = rows[0];
    if (!first) return null;
    return {
      seq: first.seq as number,
      at: first.server_timestamp as number,
      resource: JSON.parse(first.resource as string) as ResourceState,
      holders: rows.flatMap((r) => JSON.parse(r.holders as string) as Holder[]),
    };
  }

  /** The latest snapshot's seq and how many holders it has (0, 0 when there is none). */
  lastSnapshot(): { seq: number; holders: number } {
    const row = this.sql
      .exec<Row>(
        `SELECT seq, SUM(json_array_length(holders)) AS holders FROM snapshots
         WHERE seq = (SELECT MAX(seq) FROM snapshots) GROUP BY seq`,
      )
      .toArray()[0];
    return row ? { seq: row.seq as number, holders: row.holders as number } : { seq: 0, holders: 0 };
  }

  writeSnapshot(s: PastState): void {
    const parts = Math.max(1, Math.ceil(s.holders.length / HOLDERS_PER_ROW));
    for (let part = 0; part < parts; part++) {
      const slice = s.holders.slice(part * HOLDERS_PER_ROW, (part + 1) * HOLDERS_PER_ROW);
      this.sql.exec(
        "INSERT OR REPLACE INTO snapshots (seq, part, server_timestamp, resource, holders) VALUES (?, ?, ?, ?, ?)",
        s.seq,
        part,
        s.at,
        part === 0 ? JSON.stringify(s.resource) : null,
        JSON.stringify(slice),
      );
    }
  }

  /** Remembers a snapshot just published to KV; forgets those older than VIEW_RETENTION_MS. */
  recordView(v: AvailabilityView): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO availability_views (as_of, version, state, remaining) VALUES (?, ?, ?, ?)",
      v.asOf,
      v.version,
      v.state,
      v.remaining,
    );
    this.sql.exec("DELETE FROM availability_views WHERE as_of < ?", v.asOf - VIEW_RETENTION_MS);
  }

  /** The last snapshot published at or before `at` that was still cached then (published less than `ttlMs` before). */
  viewAt(at: number, ttlMs: number): AvailabilityView | null {
    const row = this.sql
      .exec<Row>("SELECT * FROM availability_views WHERE as_of <= ? ORDER BY as_of DESC LIMIT 1", at)
      .toArray()[0];
    if (!row || (row.as_of as number) + ttlMs <= at) return null;
    return {
      asOf: row.as_of as number,
      version: row.version as number,
      state: row.state as AvailabilityView["state"],
      remaining: row.remaining as number,
    };
  }

  /** The seqs of the (last 100) decisions a request id caused, oldest first (a client may reuse its request ids). */
  seqsOfRequest(requestId: string): number[] {
    return this.sql
      .exec<Row>(
        "SELECT seq FROM timeline WHERE request_id = ? AND request_id <> 'system' ORDER BY seq DESC LIMIT 100",
        requestId,
      )
      .toArray()
      .map((r) => r.seq as number)
      .reverse();
  }

  /** Decisions about one reservation, from the one that made it to the one that last moved it. */
  decisionsOfReservation(id: string, fromSeq: number, toSeq: number): TimelineEntry[] {
    const seqs = this.sql
      .exec<Row>(
        "SELECT seq FROM timeline WHERE seq BETWEEN ? AND ? AND json_extract(detail, '$.reservation_id') = ? ORDER BY seq",
        fromSeq,
        toSeq,
        id,
      )
      .toArray()
      .map((r) => r.seq as number);
    return seqs.flatMap((seq) => this.store.timelineEntry(seq) ?? []);
  }
}
