/**
 * A bounded cache: at most `max` entries, each forgotten `ttlMs` after it was
 * set; when full, the least recently used entry goes. A Map keeps insertion
 * order, so moving an entry to the end on use is all the bookkeeping needed.
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, { value: V; setAt: number }>();

  constructor(
    readonly max: number,
    readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (now - entry.setAt >= this.ttlMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, now: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, setAt: now });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
