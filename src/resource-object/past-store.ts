/**
 * What explaining a decision reads beyond the timeline itself: snapshots of
 * the state every so many decisions, the availability snapshots this object
 * handed out for caching (to KV, and on a miss to the Worker, which keeps it
 * in memory briefly), and decisions by request id.
 * Snapshots and views are written after drain rounds, never by a commit
 * (past-states.ts); a commit pays only its entry in the request-id index.
 */
import type { Holder, PastState } from "../domain/replay";
import type { ResourceState } from "../domain/resource";

/** Holders per snapshot row: a row stays well under SQLite's 2 MB value limit in a Durable Object. */
const HOLDERS_PER_ROW = 2000;
/** How long the availability snapshots handed out are kept to explain decisions by (epoch ms). */
const VIEW_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** How often old ones are forgotten, at most (epoch ms). */
const VIEW_PRUNE_EVERY_MS = 3600 * 1000;

/** An availability snapshot handed out for caching: what a cached read could show from `asOf` to `cachedUntil`. */
export interface AvailabilityView {
  asOf: number;
  cachedUntil: number;
  version: number;
  state: "OPEN" | "CLOSED";
  remaining: number;
}

type Row = Record<string, SqlStorageValue>;

export class PastStore {
  /** Views handed out since the last drain round (see `noteView`). */
  private readonly pendingViews = new Map<number, AvailabilityView>();
  private prunedAt = 0;

  constructor(private readonly sql: SqlStorage) {}

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

  /**
   * Remembers an availability snapshot just handed out, in memory until the
   * next drain round saves it (`saveViews`): the read that handed it out
   * writes nothing. One row per version: its first `asOf`, its last `cachedUntil`.
   */
  noteView(v: AvailabilityView): void {
    const known = this.pendingViews.get(v.version);
    this.pendingViews.set(v.version, known ? { ...known, cachedUntil: Math.max(known.cachedUntil, v.cachedUntil) } : v);
  }

  /** Saves the views noted since the last round; call inside the round's transaction. */
  saveViews(now: number): void {
    for (const v of this.pendingViews.values()) {
      this.sql.exec(
        `INSERT INTO availability_views (version, as_of, cached_until, state, remaining) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (version) DO UPDATE SET cached_until = MAX(cached_until, excluded.cached_until)`,
        v.version,
        v.asOf,
        v.cachedUntil,
        v.state,
        v.remaining,
      );
    }
    this.pendingViews.clear();
    if (now - this.prunedAt < VIEW_PRUNE_EVERY_MS) return;
    this.sql.exec("DELETE FROM availability_views WHERE as_of < ?", now - VIEW_RETENTION_MS);
    this.prunedAt = now;
  }

  /** The last view handed out at or before `at`, if a cache could still show it then. */
  viewAt(at: number): AvailabilityView | null {
    const row = this.sql
      .exec<Row>("SELECT * FROM availability_views WHERE as_of <= ? ORDER BY as_of DESC LIMIT 1", at)
      .toArray()[0];
    const saved: AvailabilityView | null = row
      ? {
          asOf: row.as_of as number,
          cachedUntil: row.cached_until as number,
          version: row.version as number,
          state: row.state as AvailabilityView["state"],
          remaining: row.remaining as number,
        }
      : null;
    const candidates = [saved, ...this.pendingViews.values()].filter((v): v is AvailabilityView => !!v && v.asOf <= at);
    const last = candidates.sort((a, b) => b.asOf - a.asOf)[0];
    return last && last.cachedUntil > at ? last : null;
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
}
