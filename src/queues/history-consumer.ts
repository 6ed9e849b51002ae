/**
 * The history queue's consumer: what many objects sent, written to D1 in one
 * batch, so D1 requests grow with decisions ÷ batch size, not with the number
 * of active objects. At-least-once: a redelivered message is an upsert that
 * changes nothing (storage/history-writer.ts).
 *
 * Bounded whatever the backlog: a batch is at most 100 messages of at most
 * 128 KB, a handful of D1 statements (json_each, storage/bulk-upsert.ts);
 * should its statements not fit this invocation's budget anyway, the
 * messages that fit are written and the rest go back to the queue at once.
 */
import type { Meter } from "../lib/budget";
import { HISTORY_BACKLOG_GAUGE, HISTORY_WRITTEN_GAUGE, setGauge } from "../storage/counters";
import { type HistoryQueueMessage, historyWrite, runHistoryWrite } from "../storage/history-writer";
import { logQueue, maxAttempts, retryDelaySeconds } from "./retry";

/**
 * After this many failed attempts a batch is written message by message, so
 * that one poisoned message cannot take its batch-mates to the dead-letter
 * queue with it (a D1 outage fails them all alike; they retry with backoff).
 */
const SPLIT_AFTER_ATTEMPTS = 3;
/** The two gauges written with every batch. */
const GAUGES = 2;

export async function consumeHistory(
  batch: MessageBatch<HistoryQueueMessage>,
  db: D1Database,
  meter: Meter,
): Promise<void> {
  const messages = batch.messages;
  try {
    // What is still queued behind this batch: /metrics shows its age as the history lag.
    const { backlogCount, oldestMessageTimestamp } = batch.metadata?.metrics ?? { backlogCount: 0 };
    const oldest = backlogCount > 0 && oldestMessageTimestamp ? new Date(oldestMessageTimestamp).getTime() : 0;
    const now = Date.now();
    let fit = messages.length;
    let write = historyWrite(
      db,
      messages.map((m) => m.body),
      now,
    );
    while (fit > 1 && !meter.room(write.statements.length + GAUGES, 1)) {
      fit = Math.ceil(fit / 2);
      write = historyWrite(
        db,
        messages.slice(0, fit).map((m) => m.body),
        now,
      );
    }
    await runHistoryWrite(db, write, [
      setGauge(db, HISTORY_BACKLOG_GAUGE, oldest),
      setGauge(db, HISTORY_WRITTEN_GAUGE, now),
    ]);
    if (fit === messages.length) batch.ackAll();
    else {
      for (const [i, m] of messages.entries()) {
        if (i < fit) m.ack();
        else m.retry({ delaySeconds: 0 }); // written by a later invocation, with a budget of its own
      }
    }
    return;
  } catch (err) {
    const attempts = maxAttempts(batch);
    logQueue("history batch failed", batch.queue, err, { messages: messages.length, attempts });
    if (attempts < SPLIT_AFTER_ATTEMPTS || messages.length === 1) {
      batch.retryAll({ delaySeconds: retryDelaySeconds(attempts) });
      return;
    }
  }
  for (const message of messages) {
    const write = historyWrite(db, [message.body], Date.now());
    if (!meter.room(write.statements.length, 1)) {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      continue;
    }
    try {
      await runHistoryWrite(db, write);
      message.ack();
    } catch {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
