/**
 * CSV import of resources: each line is validated with the same schema as
 * `POST /resources` and created through its resource's object. Idempotent:
 * a line whose resource exists with the same rules is "unchanged" (the
 * object says so). A malformed line is reported with its line number and
 * writes nothing. Files over SYNC_IMPORT_ROWS rows run as a job.
 */

import type { Context } from "hono";
import { config } from "../config";
import type { ResourceSpec } from "../domain/resource";
import { callerOf } from "../http/caller";
import { AppError } from "../http/errors";
import { CreateResourceBody, createFieldsOf } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { validationError } from "../http/validate";
import { applyLines, type ImportLine, type LineError, startImportJob } from "../jobs/import-job";
import { sendStep } from "../jobs/steps";
import { resourceStub } from "../resource-object/address";
import { parseCsv } from "../storage/csv";
import type { Job } from "../storage/jobs";
import { IMPORT_HEADER } from "../wire/csv-import";

/**
 * The columns a file must have: the last one (added with the offer TTL) may be
 * left out, so files written for the first header still import, with the default.
 */
const REQUIRED_COLUMNS = IMPORT_HEADER.length - 1;
export const MAX_IMPORT_ROWS = 50_000;
/** Files with more data rows than this become a job (202); smaller ones are answered when done. */
export const SYNC_IMPORT_ROWS = 500;

/** A checked file: its valid lines, the lines that failed validation, and how many data rows it has. */
export interface CheckedFile {
  lines: ImportLine[];
  invalid: LineError[];
  total: number;
}

/**
 * Parses and validates a whole file before anything is created: a broken file, a wrong header or too
 * many rows is a `400` and nothing starts.
 */
export function checkFile(c: Context<AppEnv>, text: string): CheckedFile {
  const parsed = parseCsv(text);
  if ("error" in parsed) {
    throw new AppError("VALIDATION_ERROR", `CSV line ${parsed.line}: ${parsed.error}`, [
      { field: "body", issue: "invalid_csv" },
    ]);
  }
  const [header, ...rows] = parsed.records;
  const columns = header?.fields.length ?? 0;
  if (!header || columns < REQUIRED_COLUMNS || header.fields.join(",") !== IMPORT_HEADER.slice(0, columns).join(",")) {
    const message = `the header row must be: ${IMPORT_HEADER.join(",")} (the last column may be left out)`;
    throw new AppError("VALIDATION_ERROR", message, [{ field: "body", issue: "invalid_header" }]);
  }
  if (rows.length > MAX_IMPORT_ROWS) {
    throw new AppError("VALIDATION_ERROR", `at most ${MAX_IMPORT_ROWS} rows per import`, [
      { field: "body", issue: "too_big" },
    ]);
  }
  const invalid: LineError[] = [];
  const lines: ImportLine[] = [];
  const seen = new Set<string>();
  const defaultHoldTtl = config(c.env).DEFAULT_HOLD_TTL_SECONDS;
  for (const row of rows) {
    const spec = specOf(row.fields, columns, defaultHoldTtl);
    if ("error" in spec) invalid.push({ line: row.line, error: spec.error });
    else if (seen.has(spec.id)) {
      invalid.push({
        line: row.line,
        error: { code: "VALIDATION_ERROR", message: `id ${spec.id} appears twice in the file` },
      });
    } else {
      seen.add(spec.id);
      lines.push({ line: row.line, spec });
    }
  }
  return { lines, invalid, total: rows.length };
}

/** A small file, applied now: one object call per line (the object says whether it was unchanged). */
export async function importNow(c: Context<AppEnv>, file: CheckedFile) {
  const { requestId, actor, route } = callerOf(c);
  const counts = await applyLines((id) => resourceStub(c.env, id), file.lines, { requestId, actor, route });
  return { ...counts, failed: [...file.invalid, ...counts.failed].sort((a, b) => a.line - b.line) };
}

/** A large file, or one sent with `Prefer: respond-async`: a job whose steps apply it (jobs/import-job.ts). */
export async function importLater(c: Context<AppEnv>, file: CheckedFile): Promise<Job> {
  const { requestId, actor, route } = callerOf(c);
  const job = await startImportJob(c.env, { ...file, by: { requestId, actor, route } }, Date.now());
  await sendStep(c.env, { kind: "import", jobId: job.id });
  return job;
}

function specOf(
  fields: string[],
  columns: number,
  defaultHoldTtlSeconds: number,
): ResourceSpec | { error: LineError["error"] } {
  if (fields.length !== columns) {
    return { error: { code: "VALIDATION_ERROR", message: `expected ${columns} fields, got ${fields.length}` } };
  }
  const raw: Partial<Record<(typeof IMPORT_HEADER)[number], string>> = Object.fromEntries(
    IMPORT_HEADER.slice(0, columns).map((k, i) => [k, fields[i] as string]),
  );
  const candidate = {
    id: raw.id,
    type: raw.type,
    capacity: toNumber(raw.capacity),
    waiting_list_enabled: raw.waiting_list_enabled === "" ? undefined : toBoolean(raw.waiting_list_enabled),
    booking_opens_at: raw.booking_opens_at === "" ? null : raw.booking_opens_at,
    booking_closes_at: raw.booking_closes_at === "" ? null : raw.booking_closes_at,
    max_quantity_per_reservation:
      raw.max_quantity_per_reservation === "" ? null : toNumber(raw.max_quantity_per_reservation),
    hold_ttl_seconds: raw.hold_ttl_seconds === "" ? undefined : toNumber(raw.hold_ttl_seconds),
    waiting_list_offer_ttl_seconds: toNumber(raw.waiting_list_offer_ttl_seconds),
  };
  const result = CreateResourceBody.safeParse(candidate);
  if (!result.success) {
    const err = validationError(result.error);
    return { error: { code: err.code, message: err.message, details: err.details } };
  }
  if (!result.data.id) return { error: { code: "VALIDATION_ERROR", message: "id is required in an import" } };
  return { id: result.data.id, ...createFieldsOf(result.data, defaultHoldTtlSeconds) };
}

/** Numbers as written; anything else stays a string so the schema reports it precisely. */
function toNumber(text: string | undefined): number | string | undefined {
  if (text === undefined || text === "") return undefined;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

function toBoolean(text: string | undefined): boolean | string | undefined {
  return text === "true" ? true : text === "false" ? false : text;
}
