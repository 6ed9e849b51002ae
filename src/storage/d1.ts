/**
 * The Worker's way into D1: `drizzle` over the binding, as drizzle-orm's,
 * but with every failure of the binding itself marked as `D1Unavailable`;
 * the storage modules import it from here. The HTTP layer answers that
 * with `503 UNAVAILABLE` and `Retry-After` (errors.ts), so a D1 outage is
 * never a 500, and callers with a fallback (keys, maintenance) recognise it.
 * A query D1 refuses as such (a constraint, a missing table) is a bug and
 * stays a 500.
 */
import { drizzle as drizzleD1 } from "drizzle-orm/d1";

export class D1Unavailable extends Error {
  constructor(cause: unknown) {
    super("D1 did not answer", { cause });
    this.name = "D1Unavailable";
  }
}

/** True when `err`, or an error it wraps (drizzle wraps what the driver throws), is a `D1Unavailable`. */
export function isD1Unavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof D1Unavailable) return true;
  }
  return false;
}

/** Drizzle over `db`, with the binding's failures marked (see the module comment). */
export function drizzle(db: D1Database) {
  return drizzleD1(guarded(db));
}

/** D1's own wording for a query that is wrong whatever D1's health: those are bugs, not outages. */
const QUERY_FAULT =
  /SQLITE_(ERROR|CONSTRAINT|MISMATCH|RANGE|TOOBIG)|no such (table|column)|syntax error|constraint failed/i;

function mark(err: unknown): unknown {
  return err instanceof Error && QUERY_FAULT.test(err.message) ? err : new D1Unavailable(err);
}

/** Runs `call`, marking a throw or a rejection. */
function marking<T>(call: () => T): T {
  let result: T;
  try {
    result = call();
  } catch (err) {
    throw mark(err);
  }
  return result instanceof Promise ? (result.catch((err) => Promise.reject(mark(err))) as T) : result;
}

/** The real statements behind guarded ones: `batch` must be given the binding's own objects. */
const statements = new WeakMap<object, D1PreparedStatement>();

function guardedStatement(statement: D1PreparedStatement): D1PreparedStatement {
  const proxy = new Proxy(statement, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        marking(() => {
          const result = value.apply(target, args);
          return prop === "bind" ? guardedStatement(result) : result;
        });
    },
  });
  statements.set(proxy, statement);
  return proxy;
}

/** The binding itself with its failures marked, for raw statements (`db.prepare`, `db.batch`). */
export function guarded(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        marking(() => {
          if (prop === "prepare") return guardedStatement(value.apply(target, args));
          if (prop === "batch") {
            const real = (args[0] as D1PreparedStatement[]).map((s) => statements.get(s) ?? s);
            return value.call(target, real, ...args.slice(1));
          }
          return value.apply(target, args);
        });
    },
  });
}
