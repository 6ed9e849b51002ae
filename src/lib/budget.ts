/**
 * Per-invocation budgets: what one invocation (a request, a queue batch, a
 * scheduled run, a Durable Object's drain round or alarm) may ask of the
 * platform. Miniflare enforces none of Cloudflare's per-invocation limits, so
 * the engine enforces them itself, everywhere: every binding an entry point
 * uses is wrapped (`metered`), each call is counted, and the call that would
 * go over the budget throws `BudgetExceeded` before it is made — as Cloudflare
 * would. Work that grows with the data asks `meter.room()` before each unit
 * of work and saves a cursor when there is none left (docs/scaling.md).
 *
 * The budget is the Free plan's, the smallest (docs/scaling.md cites them):
 * 50 D1 queries and 1,000 subrequests to Cloudflare services per invocation.
 * Every statement of a D1 `batch` counts as one query (no document says a
 * batch counts as one); each `batch` call is one subrequest.
 */

export const BUDGET = { d1Queries: 50, subrequests: 1000 } as const;

export class BudgetExceeded extends Error {
  constructor(entryPoint: string, what: string) {
    super(`${entryPoint}: over the per-invocation budget of ${what}`);
    this.name = "BudgetExceeded";
  }
}

export interface Peak {
  d1_queries: number;
  subrequests: number;
}

/** The most each entry point used in one invocation, in this isolate: read by tests and `npm run bench:budgets`. */
export const peaks = new Map<string, Peak>();

export class Meter {
  d1Queries = 0;
  subrequests = 0;

  /** `entryPoint` null: a request, named once it is routed (`rename`); its peak is kept from then on. */
  constructor(
    private entryPoint: string | null,
    private readonly budget: { d1Queries: number; subrequests: number } = BUDGET,
  ) {}

  /** Names the invocation once it is known (a request's route is known after routing). */
  rename(entryPoint: string): void {
    this.entryPoint = entryPoint;
    this.record();
  }

  /** Counts `queries` D1 queries made in one call (a batch: one per statement). */
  d1(queries: number): void {
    this.take(queries, 1);
  }

  /** Counts one subrequest that is not D1: an object call, KV, R2, a queue send, a fetch. */
  subrequest(): void {
    this.take(0, 1);
  }

  /** What is left of the budget. */
  left(): { d1Queries: number; subrequests: number } {
    return {
      d1Queries: this.budget.d1Queries - this.d1Queries,
      subrequests: this.budget.subrequests - this.subrequests,
    };
  }

  /** Whether `d1Queries` more D1 queries and `subrequests` more subrequests fit in what is left. */
  room(d1Queries: number, subrequests: number): boolean {
    return (
      this.d1Queries + d1Queries <= this.budget.d1Queries && this.subrequests + subrequests <= this.budget.subrequests
    );
  }

  private take(queries: number, subrequests: number): void {
    if (this.d1Queries + queries > this.budget.d1Queries) {
      throw new BudgetExceeded(this.entryPoint ?? "fetch", `${this.budget.d1Queries} D1 queries`);
    }
    if (this.subrequests + subrequests > this.budget.subrequests) {
      throw new BudgetExceeded(this.entryPoint ?? "fetch", `${this.budget.subrequests} subrequests`);
    }
    this.d1Queries += queries;
    this.subrequests += subrequests;
    this.record();
  }

  private record(): void {
    if (this.entryPoint === null) return;
    const peak = peaks.get(this.entryPoint) ?? { d1_queries: 0, subrequests: 0 };
    peak.d1_queries = Math.max(peak.d1_queries, this.d1Queries);
    peak.subrequests = Math.max(peak.subrequests, this.subrequests);
    peaks.set(this.entryPoint, peak);
  }
}

/** The bindings that reach Cloudflare services, wrapped to count on `meter`; everything else as it is. */
export function metered<E extends object>(env: E, meter: Meter): E {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(env, {
    get(target, prop) {
      if (prop === RAW) return target;
      if (prop === METER) return meter;
      const value = Reflect.get(target, prop, target);
      if (!isBinding(value)) return value;
      if (!wrapped.has(prop)) wrapped.set(prop, meterBinding(value, meter));
      return wrapped.get(prop);
    },
  });
}

const RAW = Symbol("raw env");
const METER = Symbol("meter");

/** The meter of a `metered` env (undefined for a raw one). */
export function meterOf(env: object): Meter | undefined {
  return (env as Record<symbol, Meter | undefined>)[METER];
}

/** The env a `metered` env wraps (per-isolate caches key on it), or `env` itself. */
export function rawEnv<E extends object>(env: E): E {
  return ((env as Record<symbol, unknown>)[RAW] as E | undefined) ?? env;
}

function isBinding(value: unknown): value is object {
  return typeof value === "object" && value !== null && kindOf(value) !== null;
}

type Kind = "d1" | "objects" | "counted";

function kindOf(binding: object): Kind | null {
  const has = (name: string) => typeof (binding as Record<string, unknown>)[name] === "function";
  if (has("prepare") && has("batch")) return "d1";
  if (has("idFromName")) return "objects";
  // KV (get/put), R2 (put/head), queues (send/sendBatch), rate limiters (limit), service bindings (fetch).
  if (has("put") || has("sendBatch") || has("limit") || has("fetch")) return "counted";
  return null;
}

/** Wraps one binding so that each call on it counts on `meter`. */
export function meterBinding<T extends object>(binding: T, meter: Meter): T {
  const kind = kindOf(binding);
  if (kind === "d1") return meterD1(binding as unknown as D1Database, meter) as unknown as T;
  if (kind === "objects") return meterNamespace(binding as unknown as DurableObjectNamespace, meter) as unknown as T;
  return countingCalls(binding, () => meter.subrequest());
}

/** Every method call on `target` is counted first. */
function countingCalls<T extends object>(target: T, count: () => void): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        count();
        return Reflect.apply(value, t, args);
      };
    },
  });
}

/** An object namespace whose stubs count each call (RPC or fetch) as a subrequest; ids and stubs are free. */
function meterNamespace(ns: DurableObjectNamespace, meter: Meter): DurableObjectNamespace {
  return new Proxy(ns, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      if (prop !== "get" && prop !== "getByName") return value.bind(t);
      return (...args: unknown[]) => {
        const stub = value.apply(t, args) as object;
        // An RPC stub answers every property name with a callable: each call is one subrequest.
        return new Proxy(stub, {
          get(s, method) {
            const member = Reflect.get(s, method, s);
            if (typeof member !== "function" || method === "then" || typeof method === "symbol") return member;
            return (...callArgs: unknown[]) => {
              meter.subrequest();
              return Reflect.apply(member as (...a: unknown[]) => unknown, s, callArgs);
            };
          },
        });
      };
    },
  });
}

/** D1: `run`/`all`/`first`/`raw` count one query, `batch` one per statement, `exec` one per statement. */
function meterD1(db: D1Database, meter: Meter): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();
  const statement = (s: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(s, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t);
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => statement(Reflect.apply(value, t, args));
        return (...args: unknown[]) => {
          meter.d1(1);
          return Reflect.apply(value, t, args);
        };
      },
    });
    real.set(proxy, s);
    return proxy;
  };
  return new Proxy(db, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      if (prop === "prepare") return (query: string) => statement(t.prepare(query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          meter.d1(statements.length);
          return t.batch(statements.map((s) => real.get(s) ?? s));
        };
      }
      if (prop === "exec") {
        return (query: string) => {
          meter.d1(Math.max(1, query.split(";").filter((q) => q.trim()).length));
          return t.exec(query);
        };
      }
      return value.bind(t);
    },
  });
}

/** `fetch` counting each call on `meter` (webhook deliveries). */
export function meteredFetch(meter: Meter): typeof fetch {
  return (input, init) => {
    meter.subrequest();
    return fetch(input, init);
  };
}
