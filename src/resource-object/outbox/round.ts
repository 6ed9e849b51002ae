/**
 * One round of outbox work, run by a timer after commits and by the backstop
 * alarm (drainer.ts, background.ts): timeline entries go to the history
 * queue (its consumer writes D1 in batches that mix many resources), events
 * to the webhook queue (its consumer delivers, retries and dead-letters), and
 * the availability snapshot to KV, only while somebody reads it. Never on the
 * commit path: commits go on while this awaits, and a failing queue only
 * delays its own step, retried with exponential backoff and jitter. A round
 * moves the cursors in memory; background.ts decides when they are written.
 */
import type { Config } from "../../config";
import { remaining } from "../../domain/resource";
import { backoffMs } from "../../lib/backoff";
import { logResourceFailure } from "../../lib/log";
import { countQueueMessages } from "../../lib/usage";
import { availabilityOf, putAvailability } from "../../storage/availability-cache";
import type { HistoryMessage } from "../../storage/history-writer";
import type { Ledger } from "../ledger";
import type { PastStore } from "../past-store";
import type { ResourceStore, Sequenced } from "../store";
import type { WaitingDesk } from "../waiting-desk";
import type { OutboxState } from "./cursors";
import { DRAIN_BATCH, historyMessages, sendAll } from "./messages";
import { eventOf, targetsOf, type WebhookJob } from "./webhooks";

/** KV accepts at most one write per key per second. */
const KV_WRITE_INTERVAL_MS = 1000;
/** Timeline entries read per round, per destination, before going round again. */
const MAX_BATCHES_PER_ROUND = 20;
/** Soonest follow-up when work is left over. */
const AGAIN_MS = 100;

/** Where the outbox goes; tests wrap them to inject faults or count. */
export interface OutboxBindings {
  history: Queue<HistoryMessage>;
  webhooks: Queue<WebhookJob>;
  kv: KVNamespace;
}

/** What a round reads: the committed state (it moves on while the round awaits), the timeline, the waiting list. */
export interface OutboxParts {
  ledger: Ledger;
  waitingList: WaitingDesk;
  store: ResourceStore;
  /** Where an availability snapshot that reached KV is noted (saved after the round, past-store.ts). */
  past: PastStore;
}

/** What one round sends with: the settings, the (metered) bindings and the object's clock, as they are now. */
export interface RoundIo {
  settings: Config;
  bindings: OutboxBindings;
  clock: () => number;
}

/** What a round did. */
export interface RoundDone {
  /** The cursors moved on. */
  moved: boolean;
  /** Webhook jobs were queued: a crash must not queue them again. */
  webhooksQueued: boolean;
  /** When to come back (epoch ms), or null: no work left. */
  next: number | null;
}

export class Outbox {
  constructor(private readonly parts: OutboxParts) {}

  /** Sends what is due to the history and webhook queues (side by side), then KV, moving `cursors` on. */
  async round(cursors: OutboxState, io: RoundIo): Promise<RoundDone> {
    const before = { ...cursors };
    const [historyAt, webhooks] = await Promise.all([this.sendHistory(io, cursors), this.queueWebhooks(io, cursors)]);
    const kvAt = await this.refreshAvailability(io, cursors);
    const times = [historyAt, webhooks.at, kvAt].filter((t): t is number => t !== null);
    const moved = (Object.keys(before) as (keyof OutboxState)[]).some((k) => before[k] !== cursors[k]);
    return { moved, webhooksQueued: webhooks.queued, next: times.length ? Math.min(...times) : null };
  }

  /** Timeline entries after `drainedSeq` to the history queue, a `sendBatch` per call's worth. */
  private async sendHistory(io: RoundIo, cursors: OutboxState): Promise<number | null> {
    const { ledger, store, waitingList } = this.parts;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_ROUND; batch++) {
        const entries = store.timeline(cursors.drainedSeq, DRAIN_BATCH);
        const last = entries.at(-1);
        if (!last) break;
        const current = ledger.current as Sequenced;
        // The registry row is the state now, labelled with its own seq (later than `last` if commits came meanwhile).
        const messages = historyMessages(store, current.state, current.lastSeq, waitingList.length, entries);
        countQueueMessages(await sendAll(io.bindings.history, messages));
        cursors.drainedSeq = last.seq;
      }
      cursors.failures = 0;
      return (ledger.current?.lastSeq ?? 0) > cursors.drainedSeq ? Date.now() + AGAIN_MS : null;
    } catch (err) {
      cursors.failures += 1;
      const retryIn = backoffMs(cursors.failures);
      const extra = { failures: cursors.failures, retry_in_ms: retryIn };
      logResourceFailure("history send failed", ledger.current?.state.id, err, extra);
      return Date.now() + retryIn;
    }
  }

  /**
   * Events after `webhookSeq` to the webhook queue, one job per event and
   * target. The queue's consumer delivers them (queues/webhook-consumer.ts).
   */
  private async queueWebhooks(io: RoundIo, cursors: OutboxState): Promise<{ at: number | null; queued: boolean }> {
    const { ledger, store } = this.parts;
    const resourceId = ledger.current?.state.id ?? "";
    let queued = false;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_ROUND; batch++) {
        const entries = store.timeline(cursors.webhookSeq, DRAIN_BATCH);
        const last = entries.at(-1);
        if (!last) break;
        const jobs = entries.flatMap((entry) => {
          const event = eventOf(entry, resourceId);
          return event ? targetsOf(event, entry, io.settings.WEBHOOK_URL).map((url) => ({ url, event })) : [];
        });
        if (jobs.length > 0) {
          countQueueMessages(await sendAll(io.bindings.webhooks, jobs));
          queued = true;
        }
        cursors.webhookSeq = last.seq;
      }
      cursors.webhookFailures = 0;
      return { at: (ledger.current?.lastSeq ?? 0) > cursors.webhookSeq ? Date.now() + AGAIN_MS : null, queued };
    } catch (err) {
      cursors.webhookFailures += 1;
      const retryIn = backoffMs(cursors.webhookFailures);
      const extra = { failures: cursors.webhookFailures, retry_in_ms: retryIn };
      logResourceFailure("webhook enqueue failed", resourceId, err, extra);
      return { at: Date.now() + retryIn, queued };
    }
  }

  /**
   * The snapshot in KV, refreshed only while somebody reads it: a read that
   * missed KV marked the resource read until `kvReadUntil` (see
   * ResourceObject.availabilityForCache). Nobody reading costs no KV write.
   */
  private async refreshAvailability(io: RoundIo, cursors: OutboxState): Promise<number | null> {
    const { ledger, past } = this.parts;
    const state = ledger.current?.state;
    if (!state || state.version === cursors.kvVersion || cursors.kvReadUntil <= Date.now()) return null;
    const wait = cursors.kvWrittenAt + KV_WRITE_INTERVAL_MS - Date.now();
    if (wait > 0) return Date.now() + wait;
    try {
      cursors.kvWrittenAt = Date.now();
      const asOf = io.clock();
      const ttlSeconds = io.settings.AVAILABILITY_TTL_SECONDS;
      await putAvailability(io.bindings.kv, availabilityOf(state, asOf), ttlSeconds);
      cursors.kvVersion = state.version;
      const cachedUntil = asOf + ttlSeconds * 1000;
      past.noteView({ asOf, cachedUntil, version: state.version, state: state.state, remaining: remaining(state) });
      return null;
    } catch (err) {
      logResourceFailure("availability refresh failed", ledger.current?.state.id, err);
      return Date.now() + KV_WRITE_INTERVAL_MS;
    }
  }
}
