/**
 * Reads of the history database (D1, through drizzle): the resource listing
 * and the reservation export. Keyset pagination everywhere, so a page costs
 * the same at the start and at the end of a million rows.
 */
import { and, asc, desc, eq, gt, gte, lt, sql } from "drizzle-orm";
import type { Reservation } from "../domain/reservation";
import type { ResourceState } from "../domain/resource";
import { drizzle } from "./d1";
import { decisionEvents, reservations, resources } from "./d1-schema";

export interface ResourceFilter {
  type?: string;
  state?: "OPEN" | "CLOSED";
  afterId?: string;
  limit: number;
}

/** One page of the registry, ordered by id; `nextAfterId` is null on the last page. */
export async function listResources(
  db: D1Database,
  f: ResourceFilter,
): Promise<{ items: (ResourceState & { waitingListLength: number })[]; nextAfterId: string | null }> {
  const where = and(
    f.type === undefined ? undefined : eq(resources.type, f.type),
    f.state === undefined ? undefined : eq(resources.state, f.state),
    f.afterId === undefined ? undefined : gt(resources.id, f.afterId),
  );
  const rows = await drizzle(db)
    .select()
    .from(resources)
    .where(where)
    .orderBy(asc(resources.id))
    .limit(f.limit + 1);
  const items = rows.slice(0, f.limit).map((r) => ({
    ...r,
    state: r.state as ResourceState["state"],
    metadata: JSON.parse(r.metadata),
  }));
  return { items, nextAfterId: rows.length > f.limit ? (items.at(-1)?.id ?? null) : null };
}

export interface ReservationFilter {
  resourceId?: string;
  from?: number;
  to?: number;
}

/** A position in the export's order: after the reservation decided at `ts` with this `id`. */
export interface ExportPosition {
  ts: number;
  id: string;
}

/** Rows per D1 query of the export. */
const EXPORT_PAGE = 1000;
/** Rows per response: 20 pages (and one query for the boundary), within one invocation's 50 D1 queries. */
export const EXPORT_MAX_ROWS = 20 * EXPORT_PAGE;

/**
 * One page of the export's rows after `after` and up to `upTo` (inclusive), oldest first. The keyset is
 * a row-value comparison, which SQLite seeks in the (server_timestamp, id) indexes: every page costs the
 * same, however far into the history it is (tests check the plan).
 */
export function exportPageQuery(
  db: D1Database,
  f: ReservationFilter,
  after: ExportPosition | null,
  upTo: ExportPosition | null,
  limit: number,
) {
  const key = sql`(${reservations.serverTimestamp}, ${reservations.id})`;
  return drizzle(db)
    .select()
    .from(reservations)
    .where(
      and(
        f.resourceId === undefined ? undefined : eq(reservations.resourceId, f.resourceId),
        f.from === undefined ? undefined : gte(reservations.serverTimestamp, f.from),
        f.to === undefined ? undefined : lt(reservations.serverTimestamp, f.to),
        after ? sql`${key} > (${after.ts}, ${after.id})` : undefined,
        upTo ? sql`${key} <= (${upTo.ts}, ${upTo.id})` : undefined,
      ),
    )
    .orderBy(asc(reservations.serverTimestamp), asc(reservations.id))
    .limit(limit);
}

/**
 * Where this response of the export ends: the EXPORT_MAX_ROWS-th row after `after` when more follow it,
 * else null (the response is the last). One query that walks the index, not the rows.
 */
export async function exportBoundary(
  db: D1Database,
  f: ReservationFilter,
  after: ExportPosition | null,
): Promise<ExportPosition | null> {
  const key = sql`(${reservations.serverTimestamp}, ${reservations.id})`;
  const [row, more] = await drizzle(db)
    .select({ ts: reservations.serverTimestamp, id: reservations.id })
    .from(reservations)
    .where(
      and(
        f.resourceId === undefined ? undefined : eq(reservations.resourceId, f.resourceId),
        f.from === undefined ? undefined : gte(reservations.serverTimestamp, f.from),
        f.to === undefined ? undefined : lt(reservations.serverTimestamp, f.to),
        after ? sql`${key} > (${after.ts}, ${after.id})` : undefined,
      ),
    )
    .orderBy(asc(reservations.serverTimestamp), asc(reservations.id))
    .limit(2)
    .offset(EXPORT_MAX_ROWS - 1);
  // The last row of this response, if another follows it.
  return row && more ? row : null;
}

/** Reservations matching `f` after `after` up to `upTo`, oldest first, a page at a time as the consumer pulls. */
export async function* reservationPages(
  db: D1Database,
  f: ReservationFilter,
  after: ExportPosition | null = null,
  upTo: ExportPosition | null = null,
): AsyncGenerator<Reservation[]> {
  let position = after;
  for (;;) {
    const rows = await exportPageQuery(db, f, position, upTo, EXPORT_PAGE);
    if (rows.length > 0) {
      yield rows.map((r) => ({ ...r, status: r.status as Reservation["status"], metadata: JSON.parse(r.metadata) }));
    }
    const last = rows.at(-1);
    if (!last || rows.length < EXPORT_PAGE) return;
    position = { ts: last.serverTimestamp, id: last.id };
  }
}

/** Webhook events given up on, newest first, by the partial index of just those rows; `beforeId` pages back. */
export async function deadLetterPage(
  db: D1Database,
  page: { beforeId?: number; limit: number },
): Promise<{ items: (typeof decisionEvents.$inferSelect)[]; nextBeforeId: number | null }> {
  const rows = await drizzle(db)
    .select()
    .from(decisionEvents)
    .where(
      and(
        // A literal, not a bound value: only then can SQLite use the partial index (its WHERE must match).
        sql`${decisionEvents.type} = 'webhook.dead_letter'`,
        page.beforeId === undefined ? undefined : lt(decisionEvents.id, page.beforeId),
      ),
    )
    .orderBy(desc(decisionEvents.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  return { items, nextBeforeId: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}
