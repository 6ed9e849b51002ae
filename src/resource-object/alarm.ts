/**
 * The outbox work, run by a timer after commits and by the backstop alarm
 * (drainer.ts), in order: timeline entries to D1 history, the availability
 * snapshot to KV (at most once per second, KV's limit), and webhooks. Never
 * on the commit path: commits go on while this awaits, and a slow or failing
 * dependency only delays its own step. A failure leaves the rows where they
 * are and retries with exponential backoff and jitter.
 */
import type { Config } from "../config";
import type { Json } from "../domain/resource";
import { availabilityOf, putAvailability } from "../storage/availability-cache";
import { DRAIN_BATCH, drainToHistory } from "./outbox";
import type { OutboxState, ResourceStore, Sequenced } from "./store";
import { deliver, deliveryRefusal, eventOf, RetryStore, targetsOf } from "./webhooks";

/** KV accepts at most one write per key per second. */
const KV_WRITE_INTERVAL_MS = 1000;
/** Drain batches per alarm run before yielding to a fresh alarm. */
const MAX_BATCHES_PER_ALARM = 20;
/** Webhook deliveries started per alarm run (new events and retries together). */
const DELIVERIES_PER_ALARM = 50;
/** Soonest follow-up when work is left over. */
const AGAIN_MS = 100;

/** What the alarm's work needs of its Durable Object. */
export interface AlarmHost {
  storage: DurableObjectStorage;
  store: ResourceStore;
  settings: Config;
  bindings: { db: D1Database; kv: KVNamespace; fetch: typeof fetch };
  clock: () => number;
  /** The committed state now (it moves on while the alarm awaits). */
  current: () => Sequenced | null;
  waitingListLength: () => number;
  /** Records a decision that no client asked for, e.g. a dead-lettered webhook. */
  recordNote: (type: string, reason: string, detail: Record<string, Json>) => void;
  /** The outbox cursors, kept in memory by the object; a round moves them on. */
  outbox: OutboxState;
  /** Records the cursors: `now` in the running transaction, else with the object's next commit. */
  saveOutbox: (now: boolean) => void;
  /** Comes back at `at` (epoch ms; null: no work left) and at the next hold expiry; called inside a transaction. */
  wakeAt: (at: number | null) => void;
}

/**
 * Does one round of outbox work, then records its progress and the next
 * wake-up in one transaction. Every SQLite commit costs a disk sync (and in
 * production a round trip to replicas), and with many lightly used resources
 * (one or two decisions per round) a commit per round would outnumber the
 * decisions' own, so the cursors are saved at once only when webhooks were sent
 * (a crash must not send them again); otherwise they ride along with the next
 * commit (`saveOutbox`). Rows sent again after a crash are upserts: harmless.
 */
export async function runOutboxRound(o: AlarmHost): Promise<void> {
  const outbox = o.outbox;
  const before = { ...outbox };
  const [historyAt, webhooks] = await Promise.all([drainHistory(o, outbox), deliverWebhooks(o, outbox)]);
  const kvAt = await refreshAvailability(o, outbox);
  const times = [historyAt, webhooks.at, kvAt].filter((t): t is number => t !== null);
  const changed = (Object.keys(before) as (keyof OutboxState)[]).some((k) => before[k] !== outbox[k]);
  o.storage.transactionSync(() => {
    if (changed) o.saveOutbox(webhooks.attempted);
    o.wakeAt(times.length ? Math.min(...times) : null);
  });
}

async function drainHistory(o: AlarmHost, outbox: OutboxState): Promise<number | null> {
  try {
    for (let batch = 0; batch < MAX_BATCHES_PER_ALARM; batch++) {
      const entries = o.store.timeline(outbox.drainedSeq, DRAIN_BATCH);
      const last = entries.at(-1);
      if (!last) break;
      const state = (o.current() as Sequenced).state;
      await drainToHistory(o.bindings.db, o.store, state, o.waitingListLength(), entries, o.clock());
      outbox.drainedSeq = last.seq;
    }
    outbox.failures = 0;
    return (o.current()?.lastSeq ?? 0) > outbox.drainedSeq ? Date.now() + AGAIN_MS : null;
  } catch (err) {
    outbox.failures += 1;
    const retryIn = backoff(outbox.failures);
    logWarn("history drain failed", o.current()?.state.id, err, { failures: outbox.failures, retry_in_ms: retryIn });
    return Date.now() + retryIn;
  }
}

async function refreshAvailability(o: AlarmHost, outbox: OutboxState): Promise<number | null> {
  const state = o.current()?.state;
  if (!state || state.version === outbox.kvVersion) return null;
  const wait = outbox.kvWrittenAt + KV_WRITE_INTERVAL_MS - Date.now();
  if (wait > 0) return Date.now() + wait;
  try {
    await putAvailability(o.bindings.kv, availabilityOf(state, o.clock()), o.settings.AVAILABILITY_TTL_SECONDS);
    outbox.kvVersion = state.version;
    outbox.kvWrittenAt = Date.now();
    return null;
  } catch (err) {
    logWarn("availability refresh failed", o.current()?.state.id, err);
    return Date.now() + KV_WRITE_INTERVAL_MS;
  }
}

/**
 * New events after `webhookSeq` are tried once each; a failure becomes a
 * retry row with its next attempt time; a retry that fails its last attempt
 * is dead-lettered: recorded in the timeline (and so in D1 history).
 */
async function deliverWebhooks(o: AlarmHost, outbox: OutboxState): Promise<{ at: number | null; attempted: boolean }> {
  const settings = o.settings;
  const retries = new RetryStore(o.storage.sql);
  const resourceId = o.current()?.state.id ?? "";
  const attempt = async (url: string, seq: number): Promise<string | null> => {
    const entry = o.store.timelineEntry(seq);
    const event = entry && eventOf(entry, resourceId);
    if (!event) return null;
    if (!settings.WEBHOOK_SECRET) return "WEBHOOK_SECRET is not configured";
    const refused = deliveryRefusal(url, settings);
    if (refused) return refused; // retried like any failure, then dead-lettered: visible to the operator
    try {
      await deliver(o.bindings.fetch, url, event, settings.WEBHOOK_SECRET, settings.WEBHOOK_TIMEOUT_MS);
      return null;
    } catch (err) {
      return String(err);
    }
  };

  const entries = o.store.timeline(outbox.webhookSeq, DELIVERIES_PER_ALARM);
  const fresh = entries.flatMap((entry) => {
    const event = eventOf(entry, resourceId);
    return event ? targetsOf(event, entry, settings.WEBHOOK_URL).map((url) => ({ url, seq: entry.seq })) : [];
  });
  const scanned = entries.at(-1)?.seq ?? outbox.webhookSeq;
  // Retry times follow the object's clock, so tests can make them due without sleeping.
  const due = retries.due(o.clock(), DELIVERIES_PER_ALARM);
  const [freshResults, dueResults] = await Promise.all([
    Promise.all(fresh.map((d) => attempt(d.url, d.seq))),
    Promise.all(due.map((r) => attempt(r.url, r.seq))),
  ]);

  const deadLetters: { seq: number; url: string; attempts: number; error: string }[] = [];
  if (fresh.length + due.length > 0)
    o.storage.transactionSync(() => {
      fresh.forEach((d, i) => {
        const error = freshResults[i];
        if (error) retries.add(d.seq, d.url, 1, o.clock() + backoff(1), error);
      });
      due.forEach((r, i) => {
        const error = dueResults[i];
        if (!error) retries.remove(r.id);
        else if (r.attempts + 1 >= settings.WEBHOOK_MAX_ATTEMPTS) {
          retries.remove(r.id);
          deadLetters.push({ seq: r.seq, url: r.url, attempts: r.attempts + 1, error });
        } else retries.reschedule(r.id, r.attempts + 1, o.clock() + backoff(r.attempts + 1), error);
      });
    });
  outbox.webhookSeq = scanned;
  for (const d of deadLetters) {
    o.recordNote("webhook.dead_letter", `gave up after ${d.attempts} attempts: ${d.error}`, {
      event_id: `evt_${resourceId}_${d.seq}`,
      event_seq: d.seq,
      url: d.url,
      attempts: d.attempts,
      last_error: d.error,
    });
  }
  const behind = (o.current()?.lastSeq ?? 0) > outbox.webhookSeq;
  const next = retries.nextAt();
  const attempted = fresh.length + due.length > 0;
  if (behind) return { at: Date.now() + AGAIN_MS, attempted };
  return { at: next === null ? null : Date.now() + Math.max(0, next - o.clock()), attempted };
}

/** Exponential backoff with full jitter: up to 1 s, 2 s, 4 s … capped at 5 minutes. */
export function backoff(failures: number): number {
  const ceiling = Math.min(300_000, 1000 * 2 ** (failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** One JSON warning line about a resource's background work (it is retried, so not an error). */
export function logWarn(
  msg: string,
  resourceId: string | undefined,
  err: unknown,
  extra: Record<string, unknown> = {},
): void {
  console.warn(JSON.stringify({ level: "warn", msg, resource_id: resourceId, error: String(err), ...extra }));
}
