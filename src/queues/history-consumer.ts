/**
 * The history queue's consumer: what many objects sent, written to D1 in one
 * batch, so D1 requests grow with decisions ÷ batch size, not with the number
 * of active objects. At-least-once: a redelivered message is an upsert that
 * changes nothing (storage/history-writer.ts).
 */
import { HISTORY_BACKLOG_GAUGE, HISTORY_WRITTEN_GAUGE, setGauge } from "../storage/counters";
import { type HistoryMessage, writeHistory } from "../storage/history-writer";
import { logQueue, maxAttempts, retryDelaySeconds } from "./retry";

/**
 * After this many failed attempts a batch is written message by message, so
 * that one poisoned message cannot take its batch-mates to the dead-letter
 * queue with it (a D1 outage fails them all alike; they retry with backoff).
 */
const SPLIT_AFTER_ATTEMPTS = 3;

export async function consumeHistory(batch: MessageBatch<HistoryMessage>, db: D1Database): Promise<void> {
  try {
    // What is still queued behind this batch: /metrics shows its age as the history lag.
    const { backlogCount, oldestMessageTimestamp } = batch.metadata?.metrics ?? { backlogCount: 0 };
    const oldest = backlogCount > 0 && oldestMessageTimestamp ? new Date(oldestMessageTimestamp).getTime() : 0;
    await writeHistory(
      db,
      batch.messages.map((m) => m.body),
      Date.now(),
      [setGauge(db, HISTORY_BACKLOG_GAUGE, oldest), setGauge(db, HISTORY_WRITTEN_GAUGE, Date.now())],
    );
    batch.ackAll();
    return;
  } catch (err) {
    const attempts = maxAttempts(batch);
    logQueue("history batch failed", batch.queue, err, { messages: batch.messages.length, attempts });
    if (attempts < SPLIT_AFTER_ATTEMPTS || batch.messages.length === 1) {
      batch.retryAll({ delaySeconds: retryDelaySeconds(attempts) });
      return;
    }
  }
  for (const message of batch.messages) {
    try {
      await writeHistory(db, [message.body], Date.now());
      message.ack();
    } catch {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
