/**
 * Group commit. Commands that reach the object in the same moment are decided
 * one after another, in arrival order, inside one SQLite transaction, and that
 * transaction commits once for all of them.
 *
 * Why: workerd commits every `transactionSync` on its own and holds the
 * answer until the write is durable (the output gate). Measured on this
 * machine (bench/RESULTS.md), an object that writes one row per request in its
 * own transaction answers about half as many requests as one that writes
 * nothing; the same writes grouped per timer turn answer as many. Each
 * command still decides against the state the previous one left, so nothing
 * about ordering or capacity changes: only the number of commits does.
 *
 * Every answer still waits for the commit that made it durable: the replies
 * resolve after the transaction returns, and the output gate holds them until
 * the write is on disk (in production, on replicas too).
 */

/** Most commands decided in one transaction; the rest wait for the next turn. */
export const MAX_GROUP = 256;

interface Waiting<T> {
  run: () => T;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<T> {
  private queue: Waiting<T>[] = [];
  /** At most one timer is pending (workerd caps an object's active timers at 10,000). */
  private timerPending = false;
  /** Groups committed and commands decided in them, for tests and the benchmark's notes. */
  readonly stats = { groups: 0, commands: 0, largest: 0 };

  /** `transact` runs a function in one transaction and rolls every in-memory change back if it throws. */
  constructor(private readonly transact: <R>(fn: () => R) => R) {}

  /** Queues a command; it runs at the next timer turn together with every command queued by then. */
  submit(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve, reject });
      this.flushSoon();
    });
  }

  /** A timer, not a microtask: other requests' events must get the chance to queue first. */
  private flushSoon(): void {
    if (this.timerPending) return;
    this.timerPending = true;
    setTimeout(() => {
      this.timerPending = false;
      this.flush();
    }, 0);
  }

  /** Decides the queued commands now (up to MAX_GROUP); the timer calls it, and so does the in-process benchmark. */
  flush(): void {
    const group = this.queue.splice(0, MAX_GROUP);
    if (group.length === 0) return;
    if (this.queue.length > 0) this.flushSoon();
    let results: T[];
    try {
      results = this.transact(() => group.map((waiting) => waiting.run()));
    } catch {
      // One command threw and the whole group rolled back. None of it was
      // answered, so each is decided again on its own: only the failing one fails.
      for (const waiting of group) this.runAlone(waiting);
      return;
    }
    this.stats.groups += 1;
    this.stats.commands += group.length;
    this.stats.largest = Math.max(this.stats.largest, group.length);
    group.forEach((waiting, i) => {
      waiting.resolve(results[i] as T);
    });
  }

  private runAlone(waiting: Waiting<T>): void {
    let result: T;
    try {
      result = this.transact(waiting.run);
    } catch (error) {
      waiting.reject(error);
      return;
    }
    this.stats.groups += 1;
    this.stats.commands += 1;
    waiting.resolve(result);
  }
}
