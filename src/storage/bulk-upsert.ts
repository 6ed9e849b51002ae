/**
 * Multi-row `INSERT … ON CONFLICT` statements for D1, built from the drizzle
 * table definitions (so the schema stays written once). The history writer
 * copies hundreds of rows per batch; building one drizzle query per row cost
 * half of its CPU, so rows go out several to a statement, as plain bound
 * parameters, within D1's limit of 100 per statement.
 */
import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";

/** D1 binds at most this many parameters per statement. */
export const D1_MAX_PARAMS = 100;

/**
 * Statements inserting `rows` into `table`, as many rows to a statement as
 * the parameter limit allows. Rows are keyed by drizzle's property names; a
 * column that only some rows name is NULL in the others (not its default);
 * `onConflict` is the SQL after `VALUES …`, e.g.
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
  const perStatement = Math.floor(D1_MAX_PARAMS / keys.length);
  if (perStatement === 0) throw new Error(`${getTableName(table)}: more columns than D1 binds in one statement`);
  const tuple = `(${keys.map(() => "?").join(", ")})`;
  const statements: D1PreparedStatement[] = [];
  for (let at = 0; at < rows.length; at += perStatement) {
    const chunk = rows.slice(at, at + perStatement);
    const sql = `INSERT INTO "${getTableName(table)}" (${names}) VALUES ${chunk.map(() => tuple).join(", ")} ${onConflict}`;
    const values = chunk.flatMap((row) => keys.map((k) => toSqlite((row as Record<string, unknown>)[k])));
    statements.push(db.prepare(sql).bind(...values));
  }
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
