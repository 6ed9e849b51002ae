/**
 * An invariant the code relies on, checked where it is made: when it does
 * not hold, a bug broke it, and going on would store or answer something
 * wrong. Throws an Error naming the invariant; inside a transaction, that
 * rolls it back. `message` says what must hold (keep it a constant string:
 * it is evaluated on every call, also on the hot path).
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`);
}
