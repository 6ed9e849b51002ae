/**
 * Reads of the history database (D1, through drizzle): the resource listing
 * and the reservation export. Keyset pagination everywhere, so a page costs
 * the same at the start and at the end of a million rows.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, or, type SQL } from "drizzle-orm";
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

const EXPORT_PAGE = 500;

/** Reservations matching `f`, oldest first, fetched a page at a time as the consumer pulls. */
export async function* reservationPages(db: D1Database, f: ReservationFilter): AsyncGenerator<Reservation[]> {
  const d1 = drizzle(db);
  let after: { ts: number; id: string } | null = null;
  for (;;) {
    const keyset: SQL | undefined = after
      ? or(
          gt(reservations.serverTimestamp, after.ts),
          and(eq(reservations.serverTimestamp, after.ts), gt(reservations.id, after.id)),
        )
      : undefined;
    const rows = await d1
      .select()
      .from(reservations)
      .where(
        and(
          f.resourceId === undefined ? undefined : eq(reservations.resourceId, f.resourceId),
          f.from === undefined ? undefined : gte(reservations.serverTimestamp, f.from),
          f.to === undefined ? undefined : lt(reservations.serverTimestamp, f.to),
          keyset,
        ),
      )
      .orderBy(asc(reservations.serverTimestamp), asc(reservations.id))
      .limit(EXPORT_PAGE);
    if (rows.length > 0) {
      yield rows.map((r) => ({ ...r, status: r.status as Reservation["status"], metadata: JSON.parse(r.metadata) }));
    }
    const last = rows.at(-1);
    if (!last || rows.length < EXPORT_PAGE) return;
    after = { ts: last.serverTimestamp, id: last.id };
  }
}

/** Decisions of the given types across resources, newest first; `beforeId` pages backwards. */
export async function decisionsOfTypes(
  db: D1Database,
  types: string[],
  page: { beforeId?: number; limit: number },
): Promise<{ items: (typeof decisionEvents.$inferSelect)[]; nextBeforeId: number | null }> {
  const rows = await drizzle(db)
    .select()
    .from(decisionEvents)
    .where(
      and(
        inArray(decisionEvents.type, types),
        page.beforeId === undefined ? undefined : lt(decisionEvents.id, page.beforeId),
      ),
    )
    .orderBy(desc(decisionEvents.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  return { items, nextBeforeId: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}
