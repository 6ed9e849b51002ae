/**
 * Multi-row `INSERT … ON CONFLICT` statements for D1, built from the drizzle
 * table definitions (so the schema stays written once). Rows go to D1 as one
 * JSON array bound to a single parameter and are read back with
 * `json_each`: a statement carries up to 1,000 rows (about 1.9 MB of JSON)
 * instead of the five or so that D1's 100 bound parameters allowed, so a
 * history batch of any backlog is a handful of queries (lib/budget.ts).
 */
import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { utf8Bytes } from "../lib/utf8";

/** D1 binds at most this many parameters per statement. */
export const D1_MAX_PARAMS = 100;
/** Rows per statement. */
const MAX_ROWS = 1000;
/** UTF-8 bytes of JSON per statement: under D1's 2,000,000 bytes per string. */
const MAX_JSON_BYTES = 1_900_000;

/**
 * Statements inserting `rows` into `table`. Rows are keyed by drizzle's
 * property names; a column that only some rows name is NULL in the others
 * (not its default); `onConflict` is the SQL after the rows, e.g.
 * `ON CONFLICT DO NOTHING`, and may refer to `excluded.<column>`.
 */
export function bulkUpsert<T extends SQLiteTable>(
  db: D1Database,
  table: T,
  rows: T["$inferInsert"][],
  onConflict: string,
): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const columns = getTableColumns(table);
  // Columns no row mentions keep their defaults (e.g. an autoincrement id).
  const keys = Object.keys(columns).filter((k) => rows.some((row) => k in row));
  const names = keys.map((k) => quoted(columns[k] as { name: string })).join(", ");
  const values = keys.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
  // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
  const sql = `INSERT INTO "${getTableName(table)}" (${names}) SELECT ${values} FROM json_each(?) WHERE true ${onConflict}`;
  const statements: D1PreparedStatement[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (chunk.length > 0) statements.push(db.prepare(sql).bind(`[${chunk.join(",")}]`));
    [chunk, bytes] = [[], 0];
  };
  for (const row of rows) {
    const json = JSON.stringify(keys.map((k) => toSqlite((row as Record<string, unknown>)[k])));
    const size = utf8Bytes(json);
    if (chunk.length === MAX_ROWS || bytes + size + 1 > MAX_JSON_BYTES) flush();
    chunk.push(json);
    bytes += size + 1;
  }
  flush();
  return statements;
}

/**
 * `col = excluded.col, …` for the given drizzle property names, or for every
 * column but `except` when `only` is omitted: the SET list of an upsert that
 * follows the table definition.
 */
export function fromExcluded<T extends SQLiteTable>(
  table: T,
  { only, except = [] }: { only?: (keyof T["$inferInsert"])[]; except?: (keyof T["$inferInsert"])[] },
): string {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const keys = (only as string[] | undefined) ?? Object.keys(columns).filter((k) => !(except as string[]).includes(k));
  return keys
    .map((k) => `${quoted(columns[k] as { name: string })} = excluded.${quoted(columns[k] as { name: string })}`)
    .join(", ");
}

function quoted(column: { name: string }): string {
  return `"${column.name}"`;
}

/** What drizzle would store: booleans as 0/1, absent values as NULL. */
function toSqlite(value: unknown): unknown {
  if (typeof value === "boolean") return value ? 1 : 0;
  return value ?? null;
}
