import type { Reservation } from "../domain/reservation";
import { csvLine } from "../storage/csv";
import { reservationJson } from "../wire/render";

export type ExportFormat = "csv" | "ndjson";

/** The CSV header: the fields of a reservation's JSON, in the same order. */
const CSV_COLUMNS = [
  "id",
  "resource_id",
  "client_id",
  "quantity",
  "status",
  "server_timestamp",
  "server_seq",
  "expires_at",
  "rules_version",
  "metadata",
  "cancelled_at",
  "expired_at",
  "checked_in_at",
  "order_id",
] as const satisfies readonly (keyof ReturnType<typeof reservationJson>)[];

/**
 * Streams reservations as CSV (header row first) or NDJSON, pulling one page
 * from `pages` only when the client has taken the previous one: memory stays
 * bounded by a page, whatever the export's size.
 */
export function exportStream(pages: AsyncGenerator<Reservation[]>, format: ExportFormat): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let headerSent = format !== "csv";
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(csvLine([...CSV_COLUMNS])));
        return;
      }
      const next = await pages.next();
      if (next.done) {
        controller.close();
        return;
      }
      const text = next.value.map((r) => (format === "csv" ? csvRow(r) : `${JSON.stringify(reservationJson(r))}\n`));
      controller.enqueue(encoder.encode(text.join("")));
    },
    async cancel() {
      await pages.return(undefined);
    },
  });
}

/**
 * `pages` with its first page already read, so a failure to start (D1 down)
 * is answered as an error (503) before a `200` and its headers have gone out.
 */
export async function primed<T>(pages: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await pages.next();
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      yield* pages;
    } finally {
      await pages.return(undefined);
    }
  })();
}

function csvRow(r: Reservation): string {
  const json = reservationJson(r);
  return csvLine(CSV_COLUMNS.map((k) => (k === "metadata" ? JSON.stringify(json.metadata) : json[k])));
}
