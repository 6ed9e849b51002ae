/**
 * The outbox work, run by a timer after commits and by the backstop alarm
 * (drainer.ts): timeline entries go to the history queue (its consumer writes
 * D1 in batches that mix many resources), events to the webhook queue (its
 * consumer delivers, retries and dead-letters), and the availability snapshot
 * to KV, only while somebody reads it. Never on the commit path: commits go on
 * while this awaits, and a failing queue only delays its own step, retried
 * with exponential backoff and jitter.
 */
import type { Config } from "../config";
import { remaining } from "../domain/resource";
import { backoffMs } from "../lib/backoff";
import { logFailure } from "../lib/log";
import { countQueueMessages } from "../lib/usage";
import { availabilityOf, putAvailability } from "../storage/availability-cache";
import type { HistoryMessage } from "../storage/history-writer";
import { DRAIN_BATCH, historyMessages, sendAll } from "./outbox";
import type { OutboxState } from "./outbox-cursors";
import type { AvailabilityView } from "./past-store";
import type { ResourceStore, Sequenced } from "./store";
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

/** What a drain round needs of its Durable Object. */
export interface AlarmHost {
  store: ResourceStore;
  settings: Config;
  bindings: OutboxBindings;
  clock: () => number;
  /** The committed state now (it moves on while the round awaits). */
  current: () => Sequenced | null;
  waitingListLength: () => number;
  /** The outbox cursors, kept in memory by the object; a round moves them on. */
  outbox: OutboxState;
  /** Runs `fn` in a transaction of its own (storage.transactionSync). */
  transaction: (fn: () => void) => void;
  /** Records the cursors: `now` in the running transaction, else with the object's next commit. */
  saveOutbox: (now: boolean) => void;
  /** An availability snapshot reached KV (past-store.ts); saved by `saveViews`. */
  noteView: (view: AvailabilityView) => void;
  /** Saves the availability snapshots noted since the last round; called inside the round's transaction. */
  saveViews: () => void;
  /** Comes back at `at` (epoch ms; null: no work left) and at the next hold expiry; called inside a transaction. */
  wakeAt: (at: number | null) => void;
}

/**
 * Does one round of outbox work, then records its progress and the next
 * wake-up in one transaction. Every SQLite commit costs a disk sync (and in
 * production a round trip to replicas), and with many lightly used resources
 * (one or two decisions per round) a commit per round would outnumber the
 * decisions' own, so the cursors are saved at once only when webhooks were
 * queued (a crash must not queue them again); otherwise they ride along with
 * the next commit (`saveOutbox`). History sent again after a crash is upserted: harmless.
 */
export async function runOutboxRound(o: AlarmHost): Promise<void> {
  const outbox = o.outbox;
  const before = { ...outbox };
  const [historyAt, webhooks] = await Promise.all([sendHistory(o, outbox), queueWebhooks(o, outbox)]);
  const kvAt = await refreshAvailability(o, outbox);
  const times = [historyAt, webhooks.at, kvAt].filter((t): t is number => t !== null);
  const changed = (Object.keys(before) as (keyof OutboxState)[]).some((k) => before[k] !== outbox[k]);
  o.transaction(() => {
    if (changed) o.saveOutbox(webhooks.queued);
    o.saveViews();
    o.wakeAt(times.length ? Math.min(...times) : null);
  });
}

/** Timeline entries after `drainedSeq` to the history queue, a `sendBatch` per call's worth. */
async function sendHistory(o: AlarmHost, outbox: OutboxState): Promise<number | null> {
  try {
    for (let batch = 0; batch < MAX_BATCHES_PER_ROUND; batch++) {
      const entries = o.store.timeline(outbox.drainedSeq, DRAIN_BATCH);
      const last = entries.at(-1);
      if (!last) break;
      const current = o.current() as Sequenced;
      // The registry row is the state now, labelled with its own seq (later than `last` if commits came meanwhile).
      const messages = historyMessages(o.store, current.state, current.lastSeq, o.waitingListLength(), entries);
      countQueueMessages(await sendAll(o.bindings.history, messages));
      outbox.drainedSeq = last.seq;
    }
    outbox.failures = 0;
    return (o.current()?.lastSeq ?? 0) > outbox.drainedSeq ? Date.now() + AGAIN_MS : null;
  } catch (err) {
    outbox.failures += 1;
    const retryIn = backoffMs(outbox.failures);
    logWarn("history send failed", o.current()?.state.id, err, { failures: outbox.failures, retry_in_ms: retryIn });
    return Date.now() + retryIn;
  }
}

/**
 * Events after `webhookSeq` to the webhook queue, one job per event and
 * target. The queue's consumer delivers them (queues/webhook-consumer.ts).
 */
async function queueWebhooks(o: AlarmHost, outbox: OutboxState): Promise<{ at: number | null; queued: boolean }> {
  const resourceId = o.current()?.state.id ?? "";
  let queued = false;
  try {
    for (let batch = 0; batch < MAX_BATCHES_PER_ROUND; batch++) {
      const entries = o.store.timeline(outbox.webhookSeq, DRAIN_BATCH);
      const last = entries.at(-1);
      if (!last) break;
      const jobs = entries.flatMap((entry) => {
        const event = eventOf(entry, resourceId);
        return event ? targetsOf(event, entry, o.settings.WEBHOOK_URL).map((url) => ({ url, event })) : [];
      });
      if (jobs.length > 0) {
        countQueueMessages(await sendAll(o.bindings.webhooks, jobs));
        queued = true;
      }
      outbox.webhookSeq = last.seq;
    }
    outbox.webhookFailures = 0;
    return { at: (o.current()?.lastSeq ?? 0) > outbox.webhookSeq ? Date.now() + AGAIN_MS : null, queued };
  } catch (err) {
    outbox.webhookFailures += 1;
    const retryIn = backoffMs(outbox.webhookFailures);
    logWarn("webhook enqueue failed", resourceId, err, { failures: outbox.webhookFailures, retry_in_ms: retryIn });
    return { at: Date.now() + retryIn, queued };
  }
}

/**
 * The snapshot in KV, refreshed only while somebody reads it: a read that
 * missed KV marked the resource read until `kvReadUntil` (see
 * ResourceObject.availabilityForCache). Nobody reading costs no KV write.
 */
async function refreshAvailability(o: AlarmHost, outbox: OutboxState): Promise<number | null> {
  const state = o.current()?.state;
  if (!state || state.version === outbox.kvVersion || outbox.kvReadUntil <= Date.now()) return null;
  const wait = outbox.kvWrittenAt + KV_WRITE_INTERVAL_MS - Date.now();
  if (wait > 0) return Date.now() + wait;
  try {
    outbox.kvWrittenAt = Date.now();
    const asOf = o.clock();
    await putAvailability(o.bindings.kv, availabilityOf(state, asOf), o.settings.AVAILABILITY_TTL_SECONDS);
    outbox.kvVersion = state.version;
    const cachedUntil = asOf + o.settings.AVAILABILITY_TTL_SECONDS * 1000;
    o.noteView({ asOf, cachedUntil, version: state.version, state: state.state, remaining: remaining(state) });
    return null;
  } catch (err) {
    logWarn("availability refresh failed", o.current()?.state.id, err);
    return Date.now() + KV_WRITE_INTERVAL_MS;
  }
}

/** One JSON warning line about a resource's background work (it is retried, so not an error). */
export function logWarn(
  msg: string,
  resourceId: string | undefined,
  err: unknown,
  extra: Record<string, unknown> = {},
): void {
  logFailure(msg, err, { resource_id: resourceId, ...extra });
}
