/**
 * The outbox's cursors in the object's SQLite (one row): how far the
 * timeline went to the history and webhook queues, and what KV last got.
 * Kept by background.ts, which decides when they are written.
 */

/** Progress of the outbox: how far the timeline went to the queues, and what KV last got. */
export interface OutboxState {
  /** The last timeline entry sent to the history queue. */
  drainedSeq: number;
  /** Consecutive failed drains, for the backoff. */
  failures: number;
  /** Consecutive failed webhook enqueues, for their backoff (memory only: a new life starts again at 0). */
  webhookFailures: number;
  kvVersion: number;
  kvWrittenAt: number;
  /** Until when (epoch ms) somebody reads the availability: commits refresh KV only until then. */
  kvReadUntil: number;
  /** The last timeline entry whose events went to the webhook queue. */
  webhookSeq: number;
}

type Row = Record<string, SqlStorageValue>;

export class OutboxCursors {
  constructor(private readonly sql: SqlStorage) {}

  load(): OutboxState {
    const row = this.sql.exec<Row>("SELECT * FROM outbox_state").one();
    return {
      drainedSeq: row.drained_seq as number,
      failures: row.failures as number,
      webhookFailures: 0,
      kvVersion: row.kv_version as number,
      kvWrittenAt: row.kv_written_at as number,
      kvReadUntil: row.kv_read_until as number,
      webhookSeq: row.webhook_seq as number,
    };
  }

  save(s: OutboxState): void {
    this.sql.exec(
      `UPDATE outbox_state SET drained_seq = ?, failures = ?, kv_version = ?, kv_written_at = ?, kv_read_until = ?,
         webhook_seq = ?`,
      s.drainedSeq,
      s.failures,
      s.kvVersion,
      s.kvWrittenAt,
      s.kvReadUntil,
      s.webhookSeq,
    );
  }
}
