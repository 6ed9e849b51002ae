/**
 * When the outbox drains. A commit asks for a drain DRAIN_DELAY_MS later on
 * a timer, so a burst shares one D1 batch; the object's alarm is only the
 * durable backstop (background.ts). Timers cost no storage write, an
 * alarm does: with many lightly used resources, one alarm per commit cost
 * more than the commit.
 *
 * One drain runs at a time: a drain asked for while one runs (by the timer or
 * the alarm) makes the running one go round again, so two drains never send
 * the same rows or save the cursors out of order.
 *
 * Once a round leaves nothing to do, the object settles (records its cursors
 * and drops the backstop alarm) after QUIET_MS without another commit: a
 * lightly used resource is then not woken, cold after an eviction, by its
 * backstop only to find nothing to do. A resource busier than that never
 * settles; its cursors ride along with its commits.
 */

/** Waits up to this long use a timer; longer ones (backoff after failures) are left to the alarm. */
export const TIMER_LIMIT_MS = 5_000;
/** How long an object with nothing left to drain waits for another commit before it settles. */
export const QUIET_MS = 20_000;

export class Drainer {
  private timer: { handle: ReturnType<typeof setTimeout>; at: number } | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private quiet: ReturnType<typeof setTimeout> | null = null;
  /** Tests shorten it rather than sleep. */
  quietMs = QUIET_MS;

  /**
   * `round` does one round of outbox work; `settle` runs once the object has
   * been quiet (see settleWhenQuiet); `onTimerFailure` hears of a timer's failure.
   */
  constructor(
    private readonly round: () => Promise<void>,
    private readonly settle: () => void,
    private readonly onTimerFailure: (err: unknown) => void,
  ) {}

  /** Drains now, or joins the running drain (which then goes round once more). */
  drain(): Promise<void> {
    this.cancelSettle();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async () => {
      try {
        do {
          this.again = false;
          await this.round();
        } while (this.again);
      } finally {
        this.running = null;
      }
    };
    this.running = run();
    return this.running;
  }

  /** Drains at `at` (epoch ms) on a timer; a sooner timer stands, and later than TIMER_LIMIT_MS is ignored. */
  drainAt(at: number): void {
    this.cancelSettle();
    if (at - Date.now() > TIMER_LIMIT_MS) return;
    if (this.timer && this.timer.at <= at) return;
    if (this.timer) clearTimeout(this.timer.handle);
    const handle = setTimeout(
      () => {
        this.timer = null;
        this.drain().catch(this.onTimerFailure);
      },
      Math.max(0, at - Date.now()),
    );
    this.timer = { handle, at };
  }

  /** Nothing is left to drain: `settle` runs quietMs from now, unless a commit (drainAt) or a drain comes first. */
  settleWhenQuiet(): void {
    this.cancelSettle();
    this.quiet = setTimeout(() => {
      this.quiet = null;
      try {
        this.settle();
      } catch (err) {
        this.onTimerFailure(err);
      }
    }, this.quietMs);
  }

  private cancelSettle(): void {
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = null;
  }
}
